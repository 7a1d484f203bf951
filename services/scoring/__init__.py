"""scoring service — Derived scores: curves, leaderboards, fake-report analysis, early warnings."""
