"""The training objective of one optimizer step as a module: draw the batch, compute the loss.

It is a module (with the model as its only child) so that ``DistributedDataParallel`` can wrap it: DDP
averages gradients through hooks set up in ``forward``, and one forward here covers the whole step, the
teacher-forced term and every step of a rollout alike.
"""

from __future__ import annotations

import torch

from learnsim.train.rollout import balanced, rollout_loss, sequences_per_step


class StepObjective(torch.nn.Module):
    def __init__(self, run):
        super().__init__()
        self.model = run.model
        self._run = run  # a plain attribute: the run is not a module and must not be walked by DDP

    def forward(self, horizon: int) -> tuple[torch.Tensor, int]:
        """(loss, this rank's sample count) for one step; ``horizon`` 0 is one-step training."""
        run = self._run
        tc, shard = run.config.training, run.shard
        if horizon == 0:  # one-step: windows (B, L, n_in) -> next-row outputs (B, n_out)
            loss, count = one_step_loss(run)
            return loss, count
        # multi-step: free-run `horizon` steps from each start, through simulate's code path
        batch = shard.global_count(sequences_per_step(tc.rollout, tc.train_batch_size, horizon))
        starts = run.sampler.sample(horizon, batch, run.generator)  # (B_global,)
        loss = rollout_loss(
            self.model, run.data, run.targets, starts, horizon, tc.rollout, run.generator, tc.loss, shard
        )
        if tc.rollout.one_step_weight:
            one_step = one_step_loss(run)[0]
            one_step = balanced(one_step, shard) if tc.rollout.weighting == "balanced" else one_step
            loss = loss + tc.rollout.one_step_weight * one_step
        return loss, batch // shard.world_size * horizon


def one_step_loss(run) -> tuple[torch.Tensor, int]:
    """Teacher-forced loss on this rank's share of train_batch_size random windows, and the share's size."""
    L = run.config.model.sequence_length
    starts = run.shard.take(run.data.sample_starts(run.config.training.train_batch_size, run.generator))
    prediction = run.model.predict_normalized(run.data.windows(starts))  # (B, n_direct)
    return run.loss_fn(prediction, run.targets[starts + L]), len(starts)
