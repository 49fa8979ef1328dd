"""Is this dataset fit for training? Errors name the column, episode and rows; warnings flag the suspicious."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from learnsim.data.dataset import release_pages
from learnsim.errors import DataError


@dataclass
class ValidationReport:
    source: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            listed = "\n".join(f"  - {e}" for e in self.errors)
            raise DataError(
                f"{self.source} is not fit for training ({len(self.errors)} problem(s)):\n{listed}"
            )


def validate_dataset(dataset, config=None, min_episode_rows: int | None = None) -> ValidationReport:
    """Check a ``Dataset``, and its fit with a model ``config`` when given.

    Without a config: empty table, NaN/inf counts, time column monotonic and uniform with dt.
    With a config: needed columns present (with close matches), episodes long enough
    (``min_episode_rows``, default sequence_length + 1), non-constant columns where 'mean' scaling needs a
    std, and a warning for wrapped-looking columns that are not flagged ``angle``.
    """
    report = ValidationReport(dataset.source)
    if dataset.n_rows == 0 or not dataset.columns:
        report.errors.append("the table is empty")
        return report
    bounds = dataset.episode_bounds()
    for name, values in dataset.columns.items():
        bad = ~np.isfinite(values)
        if bad.any():
            n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
            report.errors.append(f"column '{name}': {n_nan} NaN and {n_inf} inf values{_where(bad, dataset)}")
    if dataset.time is not None:
        _check_time(dataset, bounds, report)
    if config is None:
        _release(dataset)
        return report

    schema = config.schema
    needed = needed_columns(config, dataset.feature_names)
    missing = [column for column in needed if column not in dataset.columns]
    for column in missing:
        close = difflib.get_close_matches(column, dataset.feature_names, n=3, cutoff=0.5)
        hint = f"; close matches: {close}" if close else f"; columns are {dataset.feature_names}"
        report.errors.append(f"column '{column}' needed by the model config is missing{hint}")
    min_rows = min_episode_rows or config.sequence_length + 1
    short = [
        (i, end - start)
        for i, (start, end) in zip(dataset.episode_ids(), bounds, strict=True)
        if end - start < min_rows
    ]
    if short:
        listed = ", ".join(f"episode {i} ({n} rows)" for i, n in short[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        report.errors.append(
            f"{len(short)} episode(s) shorter than {min_rows} rows "
            f"(sequence_length + 1 or the rollout horizon): {listed}{more}"
        )
    for feature in (*config.inputs, *config.outputs):
        column = feature.column
        if column in missing or column not in dataset.columns:
            continue
        values = dataset.columns[column]
        if feature.scale == "mean" and not schema.is_angle(feature.name) and np.nanstd(values) == 0:
            report.errors.append(
                f"column '{column}' (feature '{feature.name}') is constant ({values[0]:g}); "
                "'mean' scaling divides by its std = 0: use scale=None or drop the feature"
            )
        if not schema.is_angle(feature.name) and _looks_wrapped(values, bounds):
            report.warnings.append(
                f"column '{column}' (feature '{feature.name}') looks like a wrapped angle "
                "(values in [-pi, pi] with jumps of about 2 pi) but is not flagged angle=True"
            )
    _release(dataset)
    return report


def _release(dataset) -> None:
    for values in (*dataset.columns.values(), dataset.episode, dataset.time):
        release_pages(values)


def needed_columns(config, available: list[str]) -> list[str]:
    """Columns training needs: every input's, and each direct output's unless derivable from a state."""
    columns = [f.column for f in config.inputs]
    for output in config.schema.direct_outputs:
        # a target column named explicitly must exist; an implicit one may be derived from its state
        explicit = output.dataset_feature is not None
        if explicit or output.column in available or derivation_state(config, output.name) is None:
            columns.append(output.column)
    return list(dict.fromkeys(columns))


def derivation_state(config, output_name: str):
    """A state whose parent is ``output_name``: its recorded values give the output's targets."""
    for state in config.schema.states:
        if state.parent == output_name:
            return state
    return None


def _where(mask: np.ndarray, dataset) -> str:
    rows = np.flatnonzero(mask)
    text = f" at rows {rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}"
    if dataset.episode is not None:
        episodes = sorted(set(dataset.episode[rows].tolist()))
        text += f" (episodes {episodes[:5]}{' ...' if len(episodes) > 5 else ''})"
    return text


def _check_time(dataset, bounds, report: ValidationReport) -> None:
    column = dataset.time_column
    for episode_id, (start, end) in zip(dataset.episode_ids(), bounds, strict=True):
        steps = np.diff(dataset.time[start:end])
        where = f" in episode {episode_id}" if dataset.episode is not None else ""
        if np.any(steps <= 0):
            row = start + int(np.flatnonzero(steps <= 0)[0]) + 1
            report.errors.append(f"time column '{column}' is not increasing{where} at row {row}")
            continue
        off = np.abs(steps - dataset.dt) > 1e-6 * max(dataset.dt, 1.0) + 1e-3 * dataset.dt
        if np.any(off):
            row = start + int(np.flatnonzero(off)[0]) + 1
            report.errors.append(
                f"time column '{column}' is not uniform with dt={dataset.dt:g}{where}: step of "
                f"{steps[row - start - 1]:g} s before row {row} ({int(off.sum())} such steps)"
            )


def _looks_wrapped(values: np.ndarray, bounds) -> bool:
    finite = values[np.isfinite(values)]
    if finite.size < 3 or finite.min() < -np.pi - 1e-6 or finite.max() > np.pi + 1e-6:
        return False
    return any(np.any(np.abs(np.diff(values[s:e])) > 1.5 * np.pi) for s, e in bounds)
