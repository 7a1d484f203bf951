"""experience service — The experience pool (经验池): search, suggestions, handbook."""
