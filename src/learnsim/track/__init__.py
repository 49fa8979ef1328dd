"""Where metrics go: JSON lines in the run directory (always), trackers (MLflow, TensorBoard, W&B), the
user's own callables, and the console."""

from learnsim.track.hub import TRACKERS, MetricsHub, Tracker, available_default_trackers

__all__ = ["TRACKERS", "MetricsHub", "Tracker", "available_default_trackers"]
