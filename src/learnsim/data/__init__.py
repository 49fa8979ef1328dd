"""Datasets: tables of trajectories, validation, leakage-free splits, windows, built-in example systems."""
