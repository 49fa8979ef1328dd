"""Several independently initialised networks of one family that simulate as one model: their mean.

Averaging models that learned apart cancels part of each one's error where their errors differ, which is
where the data leave the network free (few episodes). Measured in benchmarks/README.md ("Averaged models").
"""

from __future__ import annotations

import torch
from torch import nn


class Ensemble(nn.Module):
    """N member networks, each (B, L, F) normalised window -> (B, n_out) normalised outputs.

    Evaluating (eval mode: validation, selection, ``simulate``, export): every member sees every row and the
    prediction is their mean, so a free run feeds back the averaged state. Training: the batch's rows are cut
    into N contiguous shares and member i predicts share i only, so the members learn apart from their own
    rows at the cost of one network per step; a rollout keeps its rows in place, so each free-running row
    stays with one member for the whole rollout. Under DDP (``set_shard``) the shares are cut from the global
    batch, of which this rank holds rows rank, rank + W, ...: each member learns from the same rows as in one
    process, so the loss curve does not depend on the number of ranks.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.rank, self.world_size = 0, 1

    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.training:
            shares = torch.tensor_split(z, self.boundaries(z.shape[0]))
            return torch.cat([member(shares[i]) for i, member in enumerate(self.members)])
        return torch.stack([member(z) for member in self.members]).mean(0)

    def boundaries(self, rows: int) -> list[int]:
        """First local row of members 1 .. N-1. Local row k is global row g = rank + k W of a global batch of
        G = rows W; member i takes the global rows with floor(g N / G) = i, i.e. k >= (i G / N - rank) / W."""
        n, w, total = len(self.members), self.world_size, rows * self.world_size
        return [min(max(-(-(i * total - self.rank * n) // (n * w)), 0), rows) for i in range(1, n)]

    def set_input_range(self, low: torch.Tensor, high: torch.Tensor) -> None:
        for member in self.members:
            member.set_input_range(low, high)

    def set_step_gain(self, gain: torch.Tensor) -> None:
        for member in self.members:
            member.set_step_gain(gain)

    @torch.no_grad()
    def start_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> bool:
        """Every member starts as the linear map (see the member's ``start_from_linear``)."""
        return all([member.start_from_linear(weight, bias) for member in self.members])
