"""Where metrics go: JSON lines in the run directory (always) and the console."""
