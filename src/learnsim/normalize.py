"""Per-feature affine scaling carried as module buffers, so a saved model holds its own statistics."""

from __future__ import annotations

import torch
from torch import nn


class FeatureScaler(nn.Module):
    """``normalize(x) = (x - offset) / scale`` per feature (last dimension), and its inverse.

    Offsets and scales are buffers: they move with ``.to(device)``, are saved in ``state_dict`` and are not
    trained. A feature with ``scale=None`` keeps offset 0 and scale 1.
    """

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("offset", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def set_statistics(self, offset, scale) -> None:
        offset = torch.as_tensor(offset, dtype=self.offset.dtype)
        scale = torch.as_tensor(scale, dtype=self.scale.dtype)
        if offset.shape != self.offset.shape or scale.shape != self.scale.shape:
            raise ValueError(f"expected {tuple(self.offset.shape)} statistics, got {tuple(offset.shape)}")
        if not bool((scale > 0).all()):
            raise ValueError("scales must be > 0")
        self.offset.copy_(offset)
        self.scale.copy_(scale)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.offset) / self.scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.offset, z, self.scale)


def scaling_for(scale_rule, mean: float, std: float) -> tuple[float, float]:
    """(offset, scale) for a feature's ``scale`` rule given its training mean and std.

    'mean' -> z-score; (min, max) -> maps [min, max] to [-1, 1]; None -> identity. A zero std (constant
    column) falls back to scale 1 so that nothing divides by zero; data validation reports it as an error
    before training, so this only matters for hand-made statistics.
    """
    if scale_rule is None:
        return 0.0, 1.0
    if scale_rule == "mean":
        return float(mean), float(std) if std > 0 else 1.0
    lo, hi = scale_rule
    return (lo + hi) / 2.0, (hi - lo) / 2.0
