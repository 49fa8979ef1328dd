"""Training samples as index arithmetic on one contiguous tensor per dataset.

All rows live on the training device as ``inputs`` (N, n_inputs) and ``targets`` (N, n_direct_outputs) in
physical units. A sample is a window start row ``s``: the model reads rows s .. s+L-1, the target is row
s+L. Starts are only kept where the L+1 rows lie inside one split segment, so windows never cross an
episode or split boundary. A batch is one gather, not B Python ``__getitem__`` calls.

On CPU, rows of a stored (memory-mapped) dataset larger than MAP_ABOVE_BYTES are written once to an unlinked
file beside its columns and memory-mapped, not held in anonymous memory: the OS pages them in as windows
are gathered and may drop them again, so a dataset larger than memory still trains, and a killed run leaves
no file behind (it has no name).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from learnsim.data.dataset import release_pages
from learnsim.data.splits import Segment, Split
from learnsim.data.validate import derivation_state
from learnsim.errors import DataError
from learnsim.features import wrap_angle


def direct_targets(dataset, config) -> np.ndarray:
    """(N, n_direct_outputs) targets: row r holds the outputs the model predicts for row r (from r-1's window).

    A direct output reads its own column when the dataset has it; otherwise it is derived from the state it
    drives: x[r] (equal), x[r] - x[r-1] (delta, angle-aware) or (x[r] - x[r-1]) / dt (derivative). The first
    row of each episode has no previous row and gets NaN; no window ever targets it.
    """
    return np.stack([column for column, _ in direct_target_columns(dataset, config)], axis=1)


def direct_target_columns(dataset, config):
    """Yields (N,) float64 targets per direct output (see ``direct_targets``) and the dataset column read."""
    schema = config.schema
    for output in schema.direct_outputs:
        if output.column in dataset.columns:
            yield dataset.columns[output.column], dataset.columns[output.column]
            continue
        state = derivation_state(config, output.name)
        if state is None or state.column not in dataset.columns:
            raise DataError(
                f"output '{output.name}' has no dataset column '{output.column}' and drives no "
                "recorded state to derive its targets from"
            )
        x = dataset.columns[state.column]
        if state.relation == "equal":
            yield x, x
            continue
        change = np.full_like(x, np.nan)
        change[1:] = x[1:] - x[:-1]
        if schema.is_angle(state.name):
            change = wrap_angle(change)
        if state.relation == "derivative":
            change = change / dataset.dt
        for start, _ in dataset.episode_bounds():
            change[start] = np.nan
        yield change, x


def window_starts(segments: list[Segment], length: int) -> np.ndarray:
    """Start rows of every run of ``length`` consecutive rows lying inside one segment."""
    starts = [np.arange(s, e - length + 1) for s, e in segments if e - s >= length]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)


def runs(values: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """values (N, F), starts (B,) -> (B, length, F): rows s .. s + length - 1 for each start s.

    Gathered from a strided view of every run of ``length`` rows, so each start copies one contiguous block;
    indexing B x length single rows instead took 2x (10M rows) to 3x (100k rows) as long for B = 1024,
    L = 8 (benchmarks/README.md)."""
    n, f = values.shape
    if n < length:  # no run fits (no start can be drawn); indexing gives torch's own error for any start
        return values[starts[:, None] + torch.arange(length, device=values.device)]
    row, column = values.stride()  # any layout: the view steps a row per run and per row within it
    return values.as_strided((n - length + 1, length, f), (row, row, column))[starts]


# Size (bytes) above which a stored dataset's float32 rows are memory-mapped from an unlinked file instead of
# held in memory. Below it a file buys nothing: the rows fit, and page faults would only cost time.
MAP_ABOVE_BYTES = 64 << 20


def column_directory(dataset) -> Path | None:
    """Where a stored dataset's column files are (its columns are memory maps); None for one in memory."""
    return next((Path(c.filename).parent for c in dataset.columns.values() if _mapped_file(c)), None)


def row_buffer(shape: tuple[int, int], directory: Path | None) -> np.ndarray:
    """An empty float32 array of ``shape``: memory-mapped from an unlinked temporary file in ``directory``
    (a stored dataset's, see column_directory) when one is given and the array is larger than
    MAP_ABOVE_BYTES; otherwise ordinary memory."""
    if directory is None or 4 * shape[0] * shape[1] <= MAP_ABOVE_BYTES:
        return np.empty(shape, dtype=np.float32)
    try:  # beside the columns: the same file system, which holds the dataset; else the system's temp dir
        handle = tempfile.TemporaryFile(dir=directory)
    except OSError:
        handle = tempfile.TemporaryFile()
    with handle:  # the mapping keeps the (nameless) file alive until the array is freed
        return np.memmap(handle, dtype=np.float32, mode="w+", shape=shape)


def _mapped_file(values) -> bool:
    return isinstance(values, np.memmap) and values.filename is not None


def _stacked(tensors: list[torch.Tensor], directory: Path | None) -> torch.Tensor:
    """torch.cat of row blocks (each (N_i, C)), into a row_buffer in ``directory`` (None: memory)."""
    if directory is None:
        return torch.cat(tensors)
    out = torch.from_numpy(row_buffer((sum(len(t) for t in tensors), tensors[0].shape[1]), directory))
    return torch.cat(tensors, out=out)


def queued_copy(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """CPU ``values`` on ``device``. On CUDA through pinned memory, so that the copy is queued behind the
    kernels already launched instead of making the host wait for them (a copy from pageable memory syncs
    the stream): a step's batch indices then cost no host round trip."""
    if device.type != "cuda":
        return values.to(device)
    return values.pin_memory().to(device, non_blocking=True)


@dataclass
class WindowedData:
    """Device tensors of every row, and window starts per split."""

    inputs: torch.Tensor  # (N, n_inputs) physical
    targets: torch.Tensor  # (N, n_direct_outputs) physical
    starts: dict[str, torch.Tensor]  # split -> (n_windows,) start rows
    split: Split
    sequence_length: int
    # a stored dataset's directory on CPU: rows larger than MAP_ABOVE_BYTES are memory-mapped there
    map_dir: Path | None = None

    @classmethod
    def build(cls, dataset, config, split: Split, device="cpu", dtype=torch.float32) -> WindowedData:
        # (N, n_inputs) float32 filled a column at a time: a stored dataset's columns are memory maps, and
        # stacking them first would hold a float64 copy of every input column at once
        on_cpu = torch.device(device).type == "cpu"  # a device copy has to fit on the device anyway
        directory = column_directory(dataset) if on_cpu else None
        inputs = row_buffer((dataset.n_rows, len(config.inputs)), directory)
        for i, f in enumerate(config.inputs):
            inputs[:, i] = dataset.columns[f.column]
            release_pages(dataset.columns[f.column])
        targets = row_buffer((dataset.n_rows, len(config.schema.direct_outputs)), directory)
        for j, (column, source) in enumerate(direct_target_columns(dataset, config)):
            targets[:, j] = column
            release_pages(source)
        L = config.sequence_length
        starts = {
            name: torch.as_tensor(window_starts(getattr(split, name), L + 1), device=device)
            for name in ("train", "val", "test")
        }
        return cls(
            inputs=torch.from_numpy(inputs).to(device=device, dtype=dtype),
            targets=torch.from_numpy(np.nan_to_num(targets, copy=False)).to(device=device, dtype=dtype),
            starts=starts,
            split=split,
            sequence_length=L,
            map_dir=directory if dtype == torch.float32 else None,  # rows stacked later keep their type
        )

    @classmethod
    def concatenate(cls, parts: list[WindowedData]) -> WindowedData:
        """One row space for several datasets: rows stacked, every start and split segment shifted by the
        rows before it (windows still never cross a segment)."""
        offsets = np.cumsum([0] + [len(p.inputs) for p in parts[:-1]]).tolist()
        starts = {
            name: torch.cat([p.starts[name] + o for p, o in zip(parts, offsets, strict=True)])
            for name in parts[0].starts
        }
        segments = {
            name: [
                (s + o, e + o) for p, o in zip(parts, offsets, strict=True) for s, e in getattr(p.split, name)
            ]
            for name in ("train", "val", "test")
        }
        split = Split(**segments, by=parts[0].split.by, seed=parts[0].split.seed)
        # stacked into a mapped file as the parts' own rows are, so that training with separate validation
        # or test datasets does not pull every row into memory
        directory = next((p.map_dir for p in parts if p.map_dir is not None), None)
        inputs, targets = (
            _stacked([getattr(p, name) for p in parts], directory) for name in ("inputs", "targets")
        )
        return cls(inputs, targets, starts, split, parts[0].sequence_length, directory)

    def windows(self, starts: torch.Tensor) -> torch.Tensor:
        """starts (B,) -> windows (B, L, n_inputs): one gather."""
        return runs(self.inputs, starts, self.sequence_length)

    def gather(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """starts (B,) -> windows (B, L, n_inputs) and physical targets (B, n_direct_outputs)."""
        return self.windows(starts), self.targets[starts + self.sequence_length]

    def normalized_targets(self, scaler, chunk: int = 1 << 20) -> torch.Tensor:
        """(N, n_direct_outputs) targets normalised by ``scaler`` (once per run, not per step): into a
        row_buffer in ``map_dir`` a chunk of rows at a time, so large ones stay mapped like the rows and no
        whole temporary is held; elementwise, so the values are the same as ``scaler.normalize(targets)``."""
        if self.map_dir is None:
            return scaler.normalize(self.targets)
        out = torch.from_numpy(row_buffer(tuple(self.targets.shape), self.map_dir))
        for start in range(0, len(out), chunk):
            out[start : start + chunk] = scaler.normalize(self.targets[start : start + chunk])
        return out

    def sample_starts(
        self, batch_size: int, generator: torch.Generator, split: str = "train"
    ) -> torch.Tensor:
        """(B,) window start rows drawn uniformly with replacement from ``generator`` (a CPU generator, so
        the stream is the same on every device and its state is checkpointed)."""
        starts = self.starts[split]
        index = torch.randint(len(starts), (batch_size,), generator=generator)
        return starts[queued_copy(index, starts.device)]

    def sample(self, batch_size: int, generator: torch.Generator, split: str = "train"):
        """A random batch: windows (B, L, n_inputs) and physical targets (B, n_direct_outputs)."""
        return self.gather(self.sample_starts(batch_size, generator, split))

    def segments(self, split: str) -> list[Segment]:
        return getattr(self.split, split)

    def _training_chunks(self, chunk: int = 1 << 20):
        """Views of the training rows, at most ``chunk`` rows each (no gathered copy of the training set)."""
        for s, e in self.split.train:
            for start in range(s, e, chunk):
                yield self.inputs[start : min(e, start + chunk)]

    def training_ranges(self, config) -> dict[str, tuple[float, float]]:
        """(min, max) per input over the training rows, by name."""
        lows, highs = zip(*((c.amin(0), c.amax(0)) for c in self._training_chunks() if len(c)), strict=True)
        low, high = torch.stack(lows).amin(0).tolist(), torch.stack(highs).amax(0).tolist()
        return {f.name: (low[i], high[i]) for i, f in enumerate(config.inputs)}

    def training_statistics(self, config) -> dict[str, tuple[float, float]]:
        """(mean, std) per input (over training rows) and direct output (over training targets) by name.
        Inputs are accumulated in float64 a chunk of rows at a time: shifted by the first training row's
        values, so the sums stay accurate for features with a large offset."""
        n_inputs = self.inputs.shape[1]
        shift = self.inputs[self.split.train[0][0]].double()
        total = torch.zeros(n_inputs, dtype=torch.float64, device=self.inputs.device)
        squares, count = torch.zeros_like(total), 0
        for chunk in self._training_chunks():
            centred = chunk.double() - shift
            total += centred.sum(0)
            squares += (centred * centred).sum(0)
            count += len(chunk)
        mean = total / count
        std = (squares / count - mean * mean).clamp_min(0).sqrt()
        targets = self.targets[self.starts["train"] + self.sequence_length].double()
        stats = {}
        for i, f in enumerate(config.inputs):
            stats[f.name] = ((mean[i] + shift[i]).item(), std[i].item())
        for j, f in enumerate(config.schema.direct_outputs):
            stats[f.name] = (targets[:, j].mean().item(), targets[:, j].std(correction=0).item())
        return stats
