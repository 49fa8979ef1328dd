"""Leakage-free train / validation / test splits as row segments.

Several episodes: whole episodes go to one split each (shuffled with the seed). One long recording:
contiguous time blocks train | gap | validation | gap | test, the gap at least one window long, so no
window or target row is shared between splits and neighbouring samples are not near-duplicates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from learnsim.errors import DataError

Segment = tuple[int, int]  # rows [start, end)


@dataclass
class Split:
    train: list[Segment]
    val: list[Segment]
    test: list[Segment]
    by: str  # 'episode' or 'time'
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Split:
        """The inverse of ``to_dict`` (JSON turns segments into lists)."""
        segments = {k: [tuple(s) for s in data[k]] for k in ("train", "val", "test")}
        return cls(**segments, by=data["by"], seed=data["seed"])


def split_rows(
    bounds: list[Segment],
    train_val_split_ratio: float,
    test_dataset_size: float,
    sequence_length: int,
    seed: int,
) -> Split:
    """Split episode row ranges ``bounds``.

    test_dataset_size: rows held out for test (an int), or a fraction of all rows (a float < 1).
    train_val_split_ratio: fraction of the remaining rows (or episodes) used for training.
    sequence_length: the model's history window; one sample needs sequence_length + 1 rows, so every split
    segment has at least that many, and single-recording blocks are separated by a gap of that many rows.
    """
    sample_rows = sequence_length + 1
    total = sum(end - start for start, end in bounds)
    test_rows = (
        int(round(test_dataset_size * total))
        if isinstance(test_dataset_size, float)
        else int(test_dataset_size)
    )
    if len(bounds) > 1:
        return _by_episode(bounds, train_val_split_ratio, test_rows, seed)
    return _by_time(bounds[0], train_val_split_ratio, test_rows, sample_rows, seed)


def _by_episode(bounds, ratio, test_rows, seed) -> Split:
    order = np.random.default_rng(seed).permutation(len(bounds)).tolist()
    test, taken = [], 0
    while order and taken < test_rows and len(order) > 2:
        index = order.pop(0)
        test.append(bounds[index])
        taken += bounds[index][1] - bounds[index][0]
    if test_rows > 0 and not test:
        raise DataError(
            f"cannot hold out {test_rows} test rows: only {len(bounds)} episodes; need at least 3 "
            "(train, validation, test) or test_dataset_size=0"
        )
    n_train = min(
        max(int(round(ratio * len(order))), 1), len(order) - 1 if ratio < 1 and len(order) > 1 else len(order)
    )
    train = sorted(bounds[i] for i in order[:n_train])
    val = sorted(bounds[i] for i in order[n_train:])
    return Split(train, val, sorted(test), "episode", seed)


def _by_time(bounds, ratio, test_rows, sample_rows, seed) -> Split:
    start, end = bounds
    gap = sample_rows
    test = [(end - test_rows, end)] if test_rows > 0 else []
    head_end = end - test_rows - (gap if test_rows > 0 else 0)
    head = head_end - start
    if ratio < 1:
        train_rows = int(round(ratio * (head - gap)))
        train, val = [(start, start + train_rows)], [(start + train_rows + gap, head_end)]
    else:
        train, val = [(start, head_end)], []
    for label, segments in (("train", train), ("validation", val), ("test", test)):
        for s, e in segments:
            if e - s < sample_rows:
                raise DataError(
                    f"the {label} block of the single recording has {max(e - s, 0)} rows; it needs at least "
                    f"{sample_rows} (sequence_length + 1). Record longer, or change train_val_split_ratio / "
                    "test_dataset_size"
                )
    return Split(train, val, test, "time", seed)
