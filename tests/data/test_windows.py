import numpy as np
import pytest
import torch
from helpers import onyx_config

from learnsim import DataError, Input, MLPConfig, Output
from learnsim.data.dataset import Dataset
from learnsim.data.examples import example_dataset
from learnsim.data.splits import Split, split_rows
from learnsim.data.windows import WindowedData, direct_targets, window_starts


def test_windows_never_cross_episode_or_split_boundaries():
    assert window_starts([(0, 5), (10, 13)], 3).tolist() == [0, 1, 2, 10]
    assert window_starts([(0, 2)], 3).tolist() == []


def test_split_by_episode_is_disjoint_deterministic_and_seeded():
    bounds = [(i * 100, (i + 1) * 100) for i in range(20)]
    a = split_rows(bounds, 0.8, 0.1, 8, seed=1)
    b = split_rows(bounds, 0.8, 0.1, 8, seed=1)
    c = split_rows(bounds, 0.8, 0.1, 8, seed=2)
    assert a == b and a != c and a.by == "episode"
    assert (len(a.train), len(a.val), len(a.test)) == (14, 4, 2)
    assert sorted(a.train + a.val + a.test) == bounds  # every episode exactly once


def test_split_single_recording_has_window_gaps():
    split = split_rows([(0, 1000)], 0.75, 200, 8, seed=0)
    assert split.by == "time"
    (tr_s, tr_e), (va_s, va_e), (te_s, te_e) = split.train[0], split.val[0], split.test[0]
    assert (te_s, te_e) == (800, 1000)
    assert va_e + 9 == te_s and tr_e + 9 == va_s and tr_s == 0
    assert tr_e == round(0.75 * (791 - 9))
    with pytest.raises(DataError, match="test block of the single recording has 5 rows"):
        split_rows([(0, 1000)], 0.75, 5, 8, seed=0)


def test_no_window_or_target_shared_between_splits():
    ds = example_dataset("oscillator", episodes=1, steps=2000)
    config = onyx_config()
    split = split_rows(ds.episode_bounds(), 0.8, 0.2, config.sequence_length, seed=0)
    data = WindowedData.build(ds, config, split)
    L = config.sequence_length
    used = {
        name: set((data.starts[name][:, None] + torch.arange(L + 1)).flatten().tolist())
        for name in ("train", "val", "test")
    }
    assert (
        not used["train"] & used["val"]
        and not used["train"] & used["test"]
        and not used["val"] & used["test"]
    )


def test_gather_returns_windows_and_next_row_targets():
    ds = example_dataset("oscillator", episodes=3, steps=40)
    config = onyx_config(sequence_length=4)
    split = split_rows(ds.episode_bounds(), 0.5, 0, 4, seed=0)
    data = WindowedData.build(ds, config, split)
    windows, targets = data.gather(torch.tensor([0, 41]))
    assert windows.shape == (2, 4, 3) and targets.shape == (2, 1)
    assert windows[1, 0, 1].item() == pytest.approx(ds.columns["position"][41])
    assert targets[1, 0].item() == pytest.approx(ds.columns["acceleration"][45])
    g = torch.Generator().manual_seed(0)
    w, t = data.sample(16, g)
    assert w.shape == (16, 4, 3)


def test_targets_derived_from_states_when_output_column_absent():
    ds = example_dataset("oscillator", episodes=2, steps=30)
    del ds.columns["acceleration"]
    targets = direct_targets(ds, onyx_config())
    v = ds.columns["velocity"]
    np.testing.assert_allclose(targets[1:30, 0], (v[1:30] - v[0:29]) / 0.01)
    assert np.isnan(targets[0, 0]) and np.isnan(targets[30, 0])  # episode starts have no previous row
    # and equals the recorded acceleration, since the example integrates with the same semi-implicit Euler
    full = example_dataset("oscillator", episodes=2, steps=30)
    np.testing.assert_allclose(targets[1:30, 0], full.columns["acceleration"][1:30], rtol=1e-6, atol=1e-6)


def test_angle_delta_targets_wrap():
    theta = np.array([3.0, -3.0, -2.9])
    ds = Dataset({"theta": theta, "u": np.zeros(3)}, 0.1)
    config = MLPConfig(
        outputs=[Output("dtheta")],
        dt=0.1,
        inputs=[Input("theta", parent="dtheta", relation="delta", angle=True), Input("u")],
    )
    targets = direct_targets(ds, config)
    assert targets[1, 0] == pytest.approx(-6.0 + 2 * np.pi)  # not -6: the short way round
    assert targets[2, 0] == pytest.approx(0.1)


def test_underivable_output_is_a_clear_error():
    ds = Dataset({"u": np.arange(5.0), "x": np.arange(5.0)}, 0.1)
    config = MLPConfig(outputs=[Output("y")], inputs=[Input("u")], dt=0.1)
    with pytest.raises(DataError, match="output 'y' has no dataset column 'y'"):
        direct_targets(ds, config)


def _deleted_maps_in(directory) -> int:
    """Mappings of this process onto unlinked files in ``directory``."""
    with open("/proc/self/maps") as maps:
        return sum(str(directory) in line and "(deleted)" in line for line in maps)


needs_proc_maps = pytest.mark.skipif(
    not __import__("os").path.exists("/proc/self/maps"), reason="needs Linux /proc"
)


def _stored_oscillator(ratio: float = 0.5):
    """A stored 4-episode oscillator dataset (its columns memory-mapped), its directory, the Onyx config and
    a split of it with ``ratio`` of the episodes for training."""
    from learnsim.store.datasets import load_dataset, save_dataset

    save_dataset("osc", example_dataset("oscillator", episodes=4, steps=300))
    stored = load_dataset("osc")
    config = onyx_config()
    split = split_rows(stored.episode_bounds(), ratio, 0, config.sequence_length, seed=0)
    return stored, stored.columns["position"].filename.parent, config, split


@needs_proc_maps
def test_large_stored_rows_are_mapped_from_a_nameless_file_and_equal_the_in_memory_rows(monkeypatch):
    from learnsim.data import windows

    stored, directory, config, split = _stored_oscillator()
    in_memory = WindowedData.build(stored, config, split)
    before = _deleted_maps_in(directory)
    assert before == 0
    monkeypatch.setattr(windows, "MAP_ABOVE_BYTES", 0)
    mapped = WindowedData.build(stored, config, split)
    assert _deleted_maps_in(directory) == before + 2  # inputs and targets, each its own unlinked file
    assert sorted(p.name for p in directory.iterdir()) == sorted(  # nothing named was left beside the columns
        p.name for p in directory.iterdir() if not p.name.startswith("tmp")
    )
    assert torch.equal(mapped.inputs, in_memory.inputs) and torch.equal(mapped.targets, in_memory.targets)
    starts = torch.tensor([0, 17, 300])
    for a, b in zip(mapped.gather(starts), in_memory.gather(starts), strict=True):
        assert torch.equal(a, b)
    # a dataset in memory (not stored) is never mapped, whatever its size
    plain = WindowedData.build(example_dataset("oscillator", episodes=4, steps=300), config, split)
    assert _deleted_maps_in(directory) == before + 2 and torch.equal(plain.inputs, in_memory.inputs)
    del mapped
    import gc

    gc.collect()
    assert _deleted_maps_in(directory) == 0  # freed with the data: the file's space goes back


def test_runs_equal_indexing_row_by_row_including_views_and_the_last_run():
    from learnsim.data.windows import runs

    values = torch.arange(60.0).reshape(20, 3)
    starts = torch.tensor([0, 5, 15, 15])  # 15 is the last start of a 5-row run
    expected = values[starts[:, None] + torch.arange(5)]
    assert torch.equal(runs(values, starts, 5), expected)
    tail = values[4:]  # a view with a storage offset
    assert torch.equal(
        runs(tail, torch.tensor([0, 11]), 5), tail[torch.tensor([0, 11])[:, None] + torch.arange(5)]
    )
    columns = values.t().contiguous().t()  # not row-major
    assert torch.equal(runs(columns, starts, 5), expected)
    with pytest.raises(IndexError):
        runs(values, torch.tensor([16]), 5)  # past the end: an error, never rows of another run
    with pytest.raises(IndexError):
        runs(values[:3], torch.tensor([0]), 5)  # shorter than one run


def test_free_run_evaluation_takes_evenly_spaced_segments_up_to_its_row_budget():
    from learnsim.evaluate.metrics import spaced_segments, split_batch
    from learnsim.models import model_from_config

    segments = [(i * 100, i * 100 + 100) for i in range(10)]
    assert spaced_segments(segments, None) == segments and spaced_segments(segments, 1000) == segments
    assert spaced_segments(segments, 500) == segments[::2]  # 500 of 1000 rows
    assert spaced_segments(segments, 300) == segments[::4]  # stride 4: 300 rows (stride 3 would be 400)
    assert spaced_segments(segments, 1) == segments[:1]  # never none
    ds = example_dataset("oscillator", episodes=20, steps=100)
    config = onyx_config()
    split = split_rows(ds.episode_bounds(), 0.5, 0, config.sequence_length, seed=0)
    data = WindowedData.build(ds, config, split)
    model = model_from_config(config)
    assert split_batch(model, data, "val", 1000).inputs.shape[0] == 10  # every validation episode
    assert split_batch(model, data, "val", 1000, max_rows=500).inputs.shape[0] == 5


@needs_proc_maps
def test_rows_of_separate_datasets_are_stacked_into_a_mapped_file_when_large(monkeypatch):
    import gc

    from learnsim.data import windows
    from learnsim.store.datasets import load_dataset, save_dataset

    main, directory, config, split = _stored_oscillator(ratio=1.0)
    save_dataset("osc-val", example_dataset("oscillator", episodes=2, steps=300, seed=7))
    val = load_dataset("osc-val")
    own = Split(train=[], val=val.episode_bounds(), test=[], by="episode", seed=0)
    in_memory = WindowedData.concatenate(
        [WindowedData.build(main, config, split), WindowedData.build(val, config, own)]
    )
    assert _deleted_maps_in(directory) == 0  # small rows stay in memory
    monkeypatch.setattr(windows, "MAP_ABOVE_BYTES", 0)
    parts = [WindowedData.build(main, config, split), WindowedData.build(val, config, own)]
    joined = WindowedData.concatenate(parts)
    del parts
    gc.collect()
    assert joined.map_dir == directory
    assert _deleted_maps_in(directory) == 2  # the stacked inputs and targets; the parts' own maps are gone
    assert torch.equal(joined.inputs, in_memory.inputs) and torch.equal(joined.targets, in_memory.targets)
    assert torch.equal(joined.starts["val"], in_memory.starts["val"]) and len(joined.inputs) == 1800
    del joined
    gc.collect()
    assert _deleted_maps_in(directory) == 0


@needs_proc_maps
def test_normalized_targets_of_mapped_rows_are_mapped_too_and_equal_the_direct_normalization(monkeypatch):
    from learnsim.data import windows
    from learnsim.normalize import FeatureScaler

    stored, directory, config, split = _stored_oscillator()
    monkeypatch.setattr(windows, "MAP_ABOVE_BYTES", 0)
    data = WindowedData.build(stored, config, split)
    scaler = FeatureScaler(1)
    scaler.set_statistics([0.3], [2.5])
    before = _deleted_maps_in(directory)
    normalized = data.normalized_targets(scaler, chunk=100)  # several chunks, the last one short
    assert _deleted_maps_in(directory) == before + 1
    assert torch.equal(normalized, scaler.normalize(data.targets))
    plain = WindowedData.build(example_dataset("oscillator", episodes=4, steps=300), config, split)
    assert torch.equal(plain.normalized_targets(scaler), scaler.normalize(plain.targets))
