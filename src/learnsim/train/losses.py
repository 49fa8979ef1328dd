"""Training losses on normalised outputs: one registry of kinds, weighted per output, angle-aware."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# kind -> torch loss function(input, target, reduction=...). The config's `loss` choices come from this dict.
LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}


def elementwise(kind: str, residual: torch.Tensor) -> torch.Tensor:
    """The loss of each element of ``residual`` (prediction minus target), same shape."""
    return LOSSES[kind](residual, torch.zeros_like(residual), reduction="none")


def make_loss(kind: str, weights: dict[str, float], model):
    """Return ``loss(prediction (B, n), target (B, n)) -> scalar``, both in normalised output units.

    Normalised units make outputs of different physical scales count alike. For angle outputs the residual
    is the wrapped physical difference divided by the output scale. Uniform weights use the fused kernels.
    """
    names = model.direct_output_names
    weight = torch.tensor([weights.get(n, 1.0) for n in names], device=model.output_scaler.scale.device)
    uniform = bool((weight == 1).all())
    fused = LOSSES[kind]

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if model.step.has_angle_outputs:
            # move the target to the branch nearest the prediction, so the residual is the wrapped one
            target = prediction - model.wrap_output_residual(prediction - target)
        if uniform:
            return fused(prediction, target)
        return (fused(prediction, target, reduction="none") * weight).mean()

    return loss
