"""Evaluation: one-step and free-run metrics of data splits, plots of a run, simulation of recorded episodes."""

from learnsim.evaluate.metrics import one_step_metrics, rollout_metrics, split_metrics, split_trajectories

__all__ = ["one_step_metrics", "rollout_metrics", "split_metrics", "split_trajectories"]
