import numpy as np
import pandas as pd
import pytest

from learnsim import DataError
from learnsim.data.dataset import Dataset


def frame():
    return pd.DataFrame(
        {
            "episode": [0, 0, 0, 1, 1, 1],
            "time": [0.0, 0.1, 0.2, 0.0, 0.1, 0.2],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "u": [0, 1, 0, 1, 0, 1],
        }
    )


def test_from_pandas_splits_episode_and_time_columns():
    ds = Dataset.from_pandas(frame(), dt=0.1, episode_column="episode", time_column="time")
    assert ds.feature_names == ["x", "u"]
    assert ds.episode_bounds() == [(0, 3), (3, 6)]
    assert ds.columns["u"].dtype == np.float64
    np.testing.assert_array_equal(ds.time, [0.0, 0.1, 0.2, 0.0, 0.1, 0.2])


def test_csv_and_parquet_round_trip_to_the_same_content(tmp_path):
    csv = tmp_path / "data.csv"
    frame().to_csv(csv, index=False)
    parquet = tmp_path / "data.parquet"
    frame().to_parquet(parquet)
    a = Dataset.from_csv(csv, 0.1, "episode", "time")
    b = Dataset.from_parquet(parquet, 0.1, "episode", "time")
    assert a.content_hash() == b.content_hash()
    assert Dataset.from_file(csv, 0.1, "episode", "time").content_hash() == a.content_hash()


def test_hdf5_episode_groups(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "episodes.h5"
    with h5py.File(path, "w") as f:
        for i, T in enumerate([5, 7]):
            g = f.create_group(f"episode_{i}")
            g.create_dataset("observations/qpos", data=np.arange(T * 2, dtype=float).reshape(T, 2) + 100 * i)
            g.create_dataset("observations/speed", data=np.arange(T, dtype=float))
            g.create_dataset("actions", data=np.ones((T, 1)) * i)
    ds = Dataset.from_hdf5(path, dt=0.02)
    assert sorted(ds.feature_names) == ["actions_0", "qpos_0", "qpos_1", "speed"]
    assert ds.episode_bounds() == [(0, 5), (5, 12)]
    assert ds.columns["qpos_1"][5] == 101.0
    assert ds.columns["actions_0"][6] == 1.0


def test_hdf5_time_batch_array_with_named_columns(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "tbd.h5"
    values = np.random.default_rng(0).normal(size=(10, 3, 2))  # (T, B, D)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("trajectories", data=values)
        d.attrs["columns"] = ["q", "qd"]
    ds = Dataset.from_file(path, dt=0.05)
    assert ds.feature_names == ["q", "qd"]
    assert ds.episode_bounds() == [(0, 10), (10, 20), (20, 30)]
    np.testing.assert_array_equal(ds.columns["qd"][10:20], values[:, 1, 1])


def test_hdf5_wrong_column_count_names_the_array(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("traj", data=np.zeros((4, 2, 3)))
    with pytest.raises(DataError, match=r"array 'traj' has D=3 features but 2 column names"):
        Dataset.from_hdf5(path, 0.1, columns=["a", "b"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,x\n2,3\n", r"column 'b' is not numeric .* row 0 holds 'x'"),
        ("a,a\n1,2\n", r"duplicate column names \['a'\]"),
        ("a,b\n", r"empty \(0 rows\)"),
        ("a,b\n1,\n2,3\n", r"column 'b' has 1 missing values"),
    ],
)
def test_structural_errors_name_the_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        Dataset.from_csv(path, 0.1)


def test_pandas_duplicate_columns_and_bad_dt():
    bad = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(DataError, match="duplicate column names"):
        Dataset.from_pandas(bad, 0.1)
    with pytest.raises(DataError, match=r"dt must be a number > 0.*-1"):
        Dataset.from_pandas(frame(), -1)


def test_interleaved_episodes_are_rejected():
    bad = frame()
    bad["episode"] = [0, 1, 0, 1, 0, 1]
    with pytest.raises(DataError, match="episode 0 .* not contiguous: it starts at row 0 and again at row 2"):
        Dataset.from_pandas(bad, 0.1, episode_column="episode")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        Dataset.from_file(tmp_path / "nope.csv", 0.1)
    other = tmp_path / "data.txt"
    other.write_text("x")
    with pytest.raises(DataError, match=r"unknown file type '.txt'"):
        Dataset.from_file(other, 0.1)
