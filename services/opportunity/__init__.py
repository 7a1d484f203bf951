"""opportunity service — Opportunities on the clock: pipelines, lock, stage deadlines, confiscation."""
