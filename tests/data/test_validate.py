import numpy as np
import pytest
from helpers import onyx_config

from learnsim import DataError, Input, Output
from learnsim.data.dataset import Dataset
from learnsim.data.examples import example_dataset
from learnsim.data.validate import validate_dataset


def dataset(**columns):
    n = len(next(iter(columns.values())))
    episode = columns.pop("episode", None)
    time = columns.pop("time", None)
    return Dataset(
        {k: np.asarray(v, dtype=float) for k, v in columns.items()} or {"x": np.zeros(n)}, 0.1, episode, time
    )


def test_example_dataset_is_clean_for_its_config():
    ds = example_dataset("oscillator", episodes=4, steps=50)
    report = validate_dataset(ds, onyx_config(dt=0.01))
    assert report.ok and not report.warnings, (report.errors, report.warnings)


def test_nan_and_inf_counted_with_rows_and_episodes():
    x = np.arange(10.0)
    x[[3, 7]] = np.nan
    x[8] = np.inf
    report = validate_dataset(dataset(x=x, episode=[0] * 5 + [1] * 5))
    assert report.errors == ["column 'x': 2 NaN and 1 inf values at rows [3, 7, 8] (episodes [0, 1])"]
    with pytest.raises(DataError, match=r"not fit for training \(1 problem"):
        report.raise_for_errors()


def test_time_not_increasing_and_not_uniform():
    report = validate_dataset(dataset(x=np.arange(4.0), time=[0.0, 0.1, 0.1, 0.2]))
    assert "time column 'time' is not increasing at row 2" in report.errors[0]
    report = validate_dataset(dataset(x=np.arange(4.0), time=[0.0, 0.1, 0.3, 0.4]))
    assert "not uniform with dt=0.1: step of 0.2 s before row 2" in report.errors[0]


def test_missing_feature_lists_close_matches():
    ds = dataset(
        velocty=np.random.rand(20),
        position=np.random.rand(20),
        control_input=np.random.rand(20),
        acceleration=np.random.rand(20),
    )
    report = validate_dataset(ds, onyx_config(sequence_length=2))
    assert report.errors == [
        "column 'velocity' needed by the model config is missing; close matches: ['velocty']"
    ]


def test_short_episodes_named():
    n = 3 * 9 + 4
    ds = dataset(
        velocity=np.random.rand(n),
        position=np.random.rand(n),
        control_input=np.random.rand(n),
        acceleration=np.random.rand(n),
        episode=[0] * 9 + [1] * 4 + [2] * 9 + [3] * 9,
    )
    report = validate_dataset(ds, onyx_config(sequence_length=8))
    assert report.errors == [
        "1 episode(s) shorter than 9 rows (sequence_length + 1 or the rollout horizon): episode 1 (4 rows)"
    ]


def test_constant_column_with_mean_scaling_is_an_error_unless_unscaled():
    n = 30
    columns = dict(
        velocity=np.random.rand(n),
        position=np.random.rand(n),
        control_input=np.ones(n),
        acceleration=np.random.rand(n),
    )
    report = validate_dataset(dataset(**columns), onyx_config(sequence_length=2))
    assert (
        len(report.errors) == 1
        and "column 'control_input' (feature 'control_input') is constant (1)" in report.errors[0]
    )
    unscaled = onyx_config(
        sequence_length=2,
        inputs=[
            Input("velocity", parent="acceleration_prediction", relation="derivative"),
            Input("position", parent="velocity", relation="derivative"),
            Input("control_input", scale=None),
        ],
    )
    assert validate_dataset(dataset(**columns), unscaled).ok


def test_wrapped_angle_not_flagged_warns():
    theta = np.linspace(0, 6 * np.pi, 200)
    theta = (theta + np.pi) % (2 * np.pi) - np.pi
    columns = dict(theta=theta, u=np.random.rand(200))
    config = onyx_config(
        sequence_length=2,
        outputs=[
            Output(
                "d",
            )
        ],
        inputs=[Input("theta", parent="d", relation="delta"), Input("u")],
    )
    report = validate_dataset(dataset(**columns), config)
    assert report.ok and len(report.warnings) == 1 and "column 'theta'" in report.warnings[0]
    flagged = onyx_config(
        sequence_length=2,
        outputs=[Output("d")],
        inputs=[Input("theta", parent="d", relation="delta", angle=True), Input("u")],
    )
    assert validate_dataset(dataset(**columns), flagged).warnings == []
