"""The training objective of one optimizer step as a module: the loss of a batch drawn beforehand.

It is a module (with the model as its only child) so that ``DistributedDataParallel`` can wrap it: DDP
averages gradients through hooks set up in ``forward``, and one forward here covers the whole step, the
teacher-forced term and every step of a rollout alike.

The batch is drawn by ``draw`` outside the module: its CPU generator calls and host-to-device copies then
stay out of what ``torch.compile`` traces, so a compiled (or CUDA-graph captured) step holds device work
only, and the draws come in the same order whether the step is compiled or not.
"""

from __future__ import annotations

import torch

from learnsim.train.rollout import balanced, history_noise, rollout_loss, sequences_per_step

Draws = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]


def draw(run, horizon: int) -> Draws:
    """One step's random draws, on the run's device: (rollout starts (B_global,) or None, history noise
    (B_global, L, n_states) or None, this rank's one-step window starts (B_rank,) or None)."""
    tc, shard = run.config.training, run.shard
    if horizon == 0:
        return None, None, one_step_starts(run)
    batch = shard.global_count(sequences_per_step(tc.rollout, tc.train_batch_size, horizon))
    starts = run.sampler.sample(horizon, batch, run.generator)
    noise = history_noise(run.model, tc.rollout, batch, run.generator, run.device)
    return starts, noise, one_step_starts(run) if tc.rollout.one_step_weight else None


def one_step_starts(run) -> torch.Tensor:
    """This rank's share of train_batch_size random window starts."""
    return run.shard.take(run.data.sample_starts(run.config.training.train_batch_size, run.generator))


class StepObjective(torch.nn.Module):
    def __init__(self, run):
        super().__init__()
        self.model = run.model
        self._run = run  # a plain attribute: the run is not a module and must not be walked by DDP

    def forward(
        self,
        horizon: int,
        starts: torch.Tensor | None,
        noise: torch.Tensor | None,
        one_step: torch.Tensor | None,
    ) -> tuple[torch.Tensor, int]:
        """(loss, this rank's sample count) for one step on the batch ``draw`` made; ``horizon`` 0 is
        one-step training."""
        run = self._run
        tc, shard = run.config.training, run.shard
        if horizon == 0:  # one-step: windows (B, L, n_in) -> next-row outputs (B, n_out)
            return one_step_loss(run, one_step), len(one_step)
        # multi-step: free-run `horizon` steps from each start, through simulate's code path
        loss = rollout_loss(
            self.model, run.data, run.targets, starts, horizon, tc.rollout, noise, tc.loss, shard
        )
        if tc.rollout.one_step_weight:
            one = one_step_loss(run, one_step)
            one = balanced(one, shard) if tc.rollout.weighting == "balanced" else one
            loss = loss + tc.rollout.one_step_weight * one
        return loss, len(starts) // shard.world_size * horizon


def one_step_loss(run, starts: torch.Tensor) -> torch.Tensor:
    """Teacher-forced loss on the windows at ``starts`` (B,)."""
    L = run.config.model.sequence_length
    prediction = run.model.predict_normalized(run.data.windows(starts))  # (B, n_direct)
    return run.loss_fn(prediction, run.targets[starts + L])
