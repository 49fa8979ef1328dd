"""Baselines every model is measured against: holding the last state (in ``protocol.hold_last``), and the
linear model in the same feature schema fitted by least squares to the training windows."""

from __future__ import annotations

import torch

from learnsim.evaluate.metrics import evenly_spaced
from learnsim.models import LinearConfig, model_from_config
from learnsim.models.linear import least_squares

# Windows used for the closed-form fit: plenty for a linear map, bounded so the fit takes well under a second.
MAX_FIT_WINDOWS = 200_000


@torch.no_grad()
def fit_linear(config, data, statistics: dict, split: str = "train", ridge: float = 1e-6):
    """A ``SimulatorModel`` of the linear family with ``config``'s features, history and dt, normalised with
    ``statistics`` and fitted by ridge regression to the one-step targets of ``split``'s windows."""
    shared = config.model_dump(include={"outputs", "inputs", "dt", "sequence_length"})
    model = model_from_config(LinearConfig(**shared)).to(data.inputs.device)
    model.set_statistics(statistics)
    starts = evenly_spaced(data.starts[split], MAX_FIT_WINDOWS)
    window, target = data.gather(starts)
    features = model.encode_window(window).flatten(1)  # (N, L * F)
    weight, bias = least_squares(features, model.output_scaler.normalize(target), ridge)
    model.network.layer.weight.copy_(weight)
    model.network.layer.bias.copy_(bias)
    return model.eval()
