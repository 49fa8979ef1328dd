"""Training loss on normalised outputs, weighted per output, angle-aware."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from learnsim.features import wrap_angle


def make_loss(kind: str, weights: dict[str, float], model):
    """Return ``loss(prediction_normalized (B, n), target_physical (B, n)) -> scalar``.

    Residuals are taken in normalised units so outputs of different physical scales count alike; for angle
    outputs the residual is the wrapped physical difference divided by the output scale.
    """
    names = model.direct_output_names
    weight = torch.tensor([weights.get(n, 1.0) for n in names], device=model.output_scaler.scale.device)
    uniform = bool((weight == 1).all())
    angle = model._angle_direct
    elementwise = {
        "mse": lambda r: r.square(),
        "l1": lambda r: r.abs(),
        "huber": lambda r: F.huber_loss(r, torch.zeros_like(r), reduction="none", delta=1.0),
    }[kind]

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        residual = prediction - model.output_scaler.normalize(target)
        if angle:
            scale = model.output_scaler.scale
            wrapped = wrap_angle(residual * scale) / scale
            mask = torch.zeros_like(scale, dtype=torch.bool)
            mask[angle] = True
            residual = torch.where(mask, wrapped, residual)
        values = elementwise(residual.float())
        return values.mean() if uniform else (values * weight).mean()

    return loss


def rmse(squared_sum: torch.Tensor, count: int) -> list[float]:
    """RMSE per column from an accumulated sum of squared errors (never averaged after the root)."""
    return [math.sqrt(v / max(count, 1)) for v in squared_sum.tolist()]
