"""worklog service — The immutable daily work log with hash chains."""
