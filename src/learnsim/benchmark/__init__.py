"""Real-data benchmark harnesses (protocol arithmetic and reporting; no modelling code)."""
