"""alerts service — Difficulty alarms, responses and escalation."""
