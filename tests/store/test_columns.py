"""The columnar payload: streamed import in chunks gives exactly what an in-memory save gives, loading
memory-maps the columns, and bad chunks are named by their row in the file with nothing left behind."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learnsim.data import stream
from learnsim.data.dataset import Dataset
from learnsim.errors import DataError
from learnsim.store.datasets import import_dataset, load_dataset, save_dataset


def _table(rows=5000, episodes=10):
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "episode": np.repeat(np.arange(episodes), rows // episodes),
            "x": rng.normal(size=rows),
            "u": rng.normal(size=rows),
        }
    )


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_ROWS", 700)  # several chunks, not aligned with episodes


def test_streamed_import_equals_an_in_memory_save(tmp_path, small_chunks):
    path = tmp_path / "data.parquet"
    pq.write_table(_table(), path, row_group_size=1000)
    seen = []
    streamed = import_dataset("s", path, 0.01, episode_column="episode", on_rows=seen.append)
    assert len(seen) > 5 and seen[-1] == 5000 and seen == sorted(seen)  # progress per chunk
    memory = save_dataset("m", Dataset.from_parquet(path, 0.01, episode_column="episode"))
    assert streamed["version"] == memory["version"]  # the same content hash
    assert streamed["statistics"] == memory["statistics"] and streamed["episodes"] == 10
    loaded = load_dataset("s")
    assert isinstance(loaded.columns["x"], np.memmap) and isinstance(loaded.episode, np.memmap)
    assert np.array_equal(loaded.columns["u"], _table().column("u").to_numpy())
    csv = tmp_path / "data.csv"
    _table().to_pandas().to_csv(csv, index=False)
    assert import_dataset("c", csv, 0.01, episode_column="episode")["version"] == memory["version"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.set_column(1, "x", pa.array([*t.column("x").to_pylist()[:3000], None, *t.column("x").to_pylist()[3001:]])),
         r"column 'x' has 1 missing values \(first at rows \[3000\]\)"),
        (lambda t: t.set_column(0, "episode", pa.array(np.r_[np.zeros(4000), np.full(1000, 1.5)])),
         r"episode column 'episode' must hold integers \(row 4000 holds 1.5\)"),
        (lambda t: t.set_column(2, "u", pa.array(np.r_[np.zeros(4999), np.inf])), r"column 'u': 0 NaN and 1 inf"),
    ],
)  # fmt: skip
def test_a_bad_chunk_is_named_and_nothing_is_left(tmp_path, isolated_home, small_chunks, edit, message):
    path = tmp_path / "bad.parquet"
    pq.write_table(edit(_table()), path, row_group_size=1000)
    with pytest.raises(DataError, match=message):
        import_dataset("bad", path, 0.01, episode_column="episode")
    assert not (isolated_home / "datasets" / "bad").exists()


def test_training_statistics_match_a_float64_computation(isolated_home):
    from learnsim import example_dataset, example_features
    from learnsim.data.splits import split_rows
    from learnsim.data.windows import WindowedData
    from learnsim.models import MLPConfig

    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=300, seed=1))
    dataset = load_dataset("osc")
    config = MLPConfig(**example_features("oscillator"), dt=dataset.dt, sequence_length=8)
    split = split_rows(dataset.episode_bounds(), 0.75, 0.1, 8, seed=0)
    data = WindowedData.build(dataset, config, split)
    rows = np.concatenate([np.arange(s, e) for s, e in split.train])
    stats = data.training_statistics(config)
    for i, f in enumerate(config.inputs):
        values = data.inputs[rows, i].double().numpy()
        assert stats[f.name] == pytest.approx((values.mean(), values.std()), rel=1e-9, abs=1e-12)
