"""Batches/s of learnsim's windowed gather against a standard per-sample PyTorch DataLoader.

The baseline is the common pattern (SimScaleAI / SeeSawML style): a ``torch.utils.data.Dataset`` whose
``__getitem__`` slices one window and its target from tensors, batched by ``DataLoader`` with shuffling.
Both run on the example oscillator (64 episodes x 500 steps), batch 1024, sequence length 8, in one process.
Target: >= 10x.

    python benchmarks/data.py [--batches 200]
"""

from __future__ import annotations

import argparse
import time

import torch

from learnsim.data.examples import example_dataset, example_features
from learnsim.data.splits import split_rows
from learnsim.data.windows import WindowedData
from learnsim.models import MLPConfig


class PerSampleWindows(torch.utils.data.Dataset):
    def __init__(self, data: WindowedData):
        self.inputs, self.targets = data.inputs, data.targets
        self.starts = data.starts["train"].tolist()
        self.L = data.sequence_length

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        s = self.starts[i]
        return self.inputs[s : s + self.L], self.targets[s + self.L]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    dataset = example_dataset("oscillator")
    config = MLPConfig(**example_features("oscillator"), dt=dataset.dt, sequence_length=8)
    split = split_rows(dataset.episode_bounds(), 0.9, 0.1, 8, seed=0)
    data = WindowedData.build(dataset, config, split)

    generator = torch.Generator().manual_seed(0)
    data.sample(args.batch_size, generator)
    start = time.perf_counter()
    for _ in range(args.batches):
        data.sample(args.batch_size, generator)
    gather_rate = args.batches / (time.perf_counter() - start)

    loader = torch.utils.data.DataLoader(PerSampleWindows(data), batch_size=args.batch_size, shuffle=True)
    batches = 0
    start = time.perf_counter()
    while batches < args.batches:
        for _ in loader:
            batches += 1
            if batches == args.batches:
                break
    loader_rate = args.batches / (time.perf_counter() - start)
    print(
        f"threads={torch.get_num_threads()} batch={args.batch_size} sequence_length=8 batches={args.batches}"
    )
    print(f"{'learnsim gather':>22}: {gather_rate:10.1f} batches/s")
    print(f"{'DataLoader per-sample':>22}: {loader_rate:10.1f} batches/s")
    print(f"{'ratio':>22}: {gather_rate / loader_rate:10.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
