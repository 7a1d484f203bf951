"""opportunity service — opportunities on the clock: pipelines, lock, deadlines, confiscation."""
