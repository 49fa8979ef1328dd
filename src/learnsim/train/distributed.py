"""Data-parallel training on PyTorch's own engine: ``torchrun`` starts the processes and sets RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous; learnsim joins the process group (gloo on CPU, NCCL on CUDA)
and wraps the training objective in ``DistributedDataParallel``.

How the work is shared (see ``Shard``): every rank holds the same sampling generator, seeded alike, and
draws the whole global batch's start rows (a few thousand integers); each rank keeps its own disjoint
share, every ``world_size``-th row from its rank on. So the ranks never disagree about the curriculum's
horizon or the random stream, a checkpoint's generator state is every rank's state (resume is exact for the
same world size), and the averaged gradient equals the one-process gradient of the same global batch up to
float summation order. Rank 0 alone evaluates, writes the run directory, checkpoints, trackers and the model
store; it broadcasts the loop's decisions (best metric, early stop, prune) after each validation.
"""

from __future__ import annotations

import datetime
import inspect
import os
from dataclasses import dataclass

import torch

from learnsim.errors import ConfigError, TrainingError

# How long a collective waits for a rank before the job fails. Rank 0's validation runs while the others
# wait in the next broadcast, so this bounds the longest validation; a dead rank is usually noticed at once
# (its sockets close) and torchrun stops the others.
DEFAULT_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Shard:
    """This process's place in the job. ``Shard()`` is the single-process default."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's share of a global batch: rows rank, rank + world_size, ... ((B,) -> (B / W,))."""
        return rows[self.rank :: self.world_size] if self.active else rows

    def global_count(self, count: int) -> int:
        """``count`` rounded up to a multiple of the world size, so every rank's share is equally large
        (and the average of per-rank mean losses is the global mean)."""
        return -(-count // self.world_size) * self.world_size


def from_environment(device_name: str) -> Shard:
    """The shard torchrun's environment describes, with the process group joined; ``Shard()`` when not
    launched by torchrun (WORLD_SIZE unset or 1)."""
    world_size = _whole("WORLD_SIZE", "1", low=1)
    if world_size <= 1:
        return Shard()
    import torch.distributed as dist

    if "RANK" not in os.environ:
        raise ConfigError(f"WORLD_SIZE={world_size} but RANK is not set: start the processes with torchrun")
    rank, local_rank = _whole("RANK", None, low=0), _whole("LOCAL_RANK", "0", low=0)
    if rank >= world_size:
        raise ConfigError(
            f"RANK={rank} is not below WORLD_SIZE={world_size}: ranks are 0 to {world_size - 1}"
        )
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={world_size} but {' and '.join(missing)} is not set: the processes cannot find each "
            "other; start them with torchrun (which sets both)"
        )
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        timeout = float(os.environ.get("LEARNSIM_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
        try:
            dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout))
        except (RuntimeError, ValueError, OSError) as error:  # torch's store errors subclass RuntimeError
            where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TrainingError(
                f"rank {rank} of WORLD_SIZE={world_size} could not join the process group at {where} within "
                f"{timeout:g} s (LEARNSIM_DIST_TIMEOUT): {first}. Are the other ranks started, with the same "
                "MASTER_ADDR and MASTER_PORT?"
            ) from None
    return Shard(rank, world_size, local_rank)


def _whole(name: str, default: str | None, low: int) -> int:
    """An integer environment variable of torchrun's, at least ``low``; a clear error naming it otherwise."""
    raw = os.environ.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a whole number (it is set by torchrun)") from None
    if value < low:
        raise ConfigError(f"{name}={value} must be at least {low}")
    return value


def device_for(shard: Shard, device: torch.device) -> torch.device:
    """Each rank drives its own GPU (cuda:LOCAL_RANK); CPU ranks share the CPU."""
    if shard.active and device.type == "cuda":
        return torch.device("cuda", shard.local_rank)
    return device


def check_batch(shard: Shard, train_batch_size: int) -> None:
    if shard.active and train_batch_size % shard.world_size:
        raise ConfigError(
            f"training.train_batch_size is {train_batch_size}, which {shard.world_size} ranks cannot share "
            f"equally; use a multiple of {shard.world_size} (it is the global batch, split across ranks)"
        )


def wrap(shard: Shard, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` under DistributedDataParallel (gradients averaged across ranks in backward), or itself."""
    if not shard.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    # Buffers are normalisation statistics, equal on every rank and never trained: no need to broadcast them
    # before every forward (the option was renamed in newer torch).
    parameters = inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in parameters
        else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(module, device_ids=device_ids, **no_sync)


def broadcast(shard: Shard, value):
    """Rank 0's ``value`` on every rank (any picklable value; only between learnsim's own processes)."""
    if not shard.active:
        return value
    import torch.distributed as dist

    box = [value if shard.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _sum(value: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``value`` over all ranks, detached (a collective: every rank calls it)."""
    import torch.distributed as dist

    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def mean(shard: Shard, value: torch.Tensor) -> float:
    """The mean of a scalar over all ranks (each rank's mean over its equal share: the global mean)."""
    if not shard.active:
        return value.item()
    return _sum(value.float().reshape(1)).item() / shard.world_size


def global_mean(shard: Shard, value: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``value`` over all ranks, detached (a collective: every rank calls it)."""
    if not shard.active:
        return value.detach()
    return _sum(value) / shard.world_size


def shutdown(shard: Shard) -> None:
    """Leave the process group; drop every reference to DDP modules first."""
    if shard.active:
        import gc

        import torch.distributed as dist

        gc.collect()  # DDP reducers still in reference cycles go now, not at interpreter exit
        if dist.is_initialized():
            dist.destroy_process_group()


def lost_rank(shard: Shard, error: BaseException, checkpoint_note: str) -> TrainingError:
    """The error a rank raises when a collective failed: another rank died, hung or lost the network."""
    problem = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return TrainingError(
        f"rank {shard.rank} of {shard.world_size} lost contact with the other ranks ({problem}); one of them "
        f"died or the network failed{checkpoint_note}. Resume with the same number of processes: "
        f"torchrun --nproc_per_node {shard.world_size} -m learnsim train --resume RUN_DIR"
    )
