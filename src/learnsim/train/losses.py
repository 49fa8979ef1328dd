"""Training loss on normalised outputs, weighted per output, angle-aware."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def make_loss(kind: str, weights: dict[str, float], model):
    """Return ``loss(prediction (B, n), target (B, n)) -> scalar``, both in normalised output units.

    Normalised units make outputs of different physical scales count alike. For angle outputs the residual
    is the wrapped physical difference divided by the output scale. Uniform weights use the fused kernels.
    """
    names = model.direct_output_names
    weight = torch.tensor([weights.get(n, 1.0) for n in names], device=model.output_scaler.scale.device)
    uniform = bool((weight == 1).all())
    fused = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[kind]

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if model._angle_direct:
            # move the target to the branch nearest the prediction, so the residual is the wrapped one
            target = prediction - model.wrap_output_residual(prediction - target)
        if uniform:
            return fused(prediction, target)
        return (fused(prediction, target, reduction="none") * weight).mean()

    return loss


def rmse(squared_sum: torch.Tensor, count: int) -> list[float]:
    """RMSE per column from an accumulated sum of squared errors (never averaged after the root)."""
    return [math.sqrt(v / max(count, 1)) for v in squared_sum.tolist()]
