import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from learnsim import DataError, StoreError
from learnsim.data.dataset import Dataset
from learnsim.store import delete_dataset, list_datasets, load_dataset, save_dataset


def small(seed=0, n=50):
    rng = np.random.default_rng(seed)
    return Dataset({"x": rng.normal(size=n), "u": rng.normal(size=n)}, 0.1, np.repeat([0, 1], n // 2))


def test_save_load_round_trip_with_metadata_and_lineage():
    raw = save_dataset("raw", small(0))
    meta = save_dataset("clean", small(1), source_datasets=["raw"])
    assert meta["lineage"] == [{"name": "raw", "version": raw["version"]}]
    assert meta["rows"] == 50 and meta["episodes"] == 2 and meta["features"] == ["x", "u"]
    assert meta["statistics"]["x"]["std"] > 0
    loaded = load_dataset("clean")
    assert loaded.content_hash() == small(1).content_hash()
    assert loaded.store_version == meta["version"]
    assert load_dataset(f"clean@{meta['version'][:6]}").store_version == meta["version"]


def test_versions_are_content_addressed_and_immutable():
    a = save_dataset("d", small(0))
    b = save_dataset("d", small(0))
    c = save_dataset("d", small(1))
    assert a["version"] == b["version"] != c["version"]
    assert [m["version"] for m in list_datasets()] == [a["version"], c["version"]]
    assert load_dataset("d").store_version == c["version"]  # latest
    delete_dataset("d", c["version"])
    assert load_dataset("d").store_version == a["version"]
    with pytest.raises(StoreError, match="no version 'ffff'"):
        load_dataset("d", "ffff")
    with pytest.raises(StoreError, match="no dataset named 'other'"):
        load_dataset("other")


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "", ".hidden", "a\\b", "x" * 200, "ok..no"])
def test_unsafe_names_are_rejected_and_nothing_is_written(name, isolated_home):
    with pytest.raises(StoreError, match="invalid dataset name"):
        save_dataset(name, small())
    written = [p for p in isolated_home.parent.rglob("*") if "learnsim_home" not in str(p)]
    assert not any(p.name in ("columns.json", "col-000.f64", "meta.json") for p in written)


def test_invalid_data_is_not_saved(isolated_home):
    bad = small()
    bad.columns["x"][3] = np.nan
    with pytest.raises(DataError, match=r"column 'x': 1 NaN"):
        save_dataset("bad", bad)
    assert list_datasets() == []


def _save_worker(args):
    home, seed = args
    os.environ["LEARNSIM_HOME"] = home
    return save_dataset("shared", small(seed, n=2000))["version"]


def test_eight_concurrent_writers_lose_nothing(isolated_home):
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        versions = pool.map(_save_worker, [(str(isolated_home), seed) for seed in range(8)])
    stored = {m["version"] for m in list_datasets()}
    assert stored == set(versions) and len(stored) == 8
    for version in versions:
        assert load_dataset("shared", version).n_rows == 2000


def test_sigkill_during_save_leaves_the_old_version_intact(isolated_home, tmp_path):
    old = save_dataset("big", small(0))
    # The child saves a large dataset; the payload write is slowed so the kill lands mid-save.
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["LEARNSIM_HOME"] = {str(isolated_home)!r}
        import numpy as np
        from learnsim.data.dataset import Dataset
        from learnsim.store import columns, save_dataset
        real = columns.write_columns
        def slow(dataset, directory):
            print("writing", flush=True)
            real(dataset, directory)
            time.sleep(30)
        columns.write_columns = slow
        rng = np.random.default_rng(1)
        save_dataset("big", Dataset({{"x": rng.normal(size=200000), "u": rng.normal(size=200000)}}, 0.1))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait()
    metas = list_datasets()
    assert [m["version"] for m in metas] == [old["version"]]
    assert load_dataset("big").content_hash() == small(0).content_hash()
    leftovers = [p.name for p in (isolated_home / "datasets" / "big").iterdir()]
    assert all(name.startswith(".tmp-") or name == old["version"] for name in leftovers)
    # the next save still works and sweeps nothing it should not
    assert save_dataset("big", small(2))["version"] in {m["version"] for m in list_datasets()}
    assert (
        json.loads((isolated_home / "datasets" / "big" / old["version"] / "meta.json").read_text())["rows"]
        == 50
    )
