"""Errors learnsim raises on bad input.

Every error is a ``LearnsimError``: the CLI prints its message as one paragraph and exits non-zero, never a
traceback. Messages name the feature, field, column, episode or file at fault and say what was expected.
"""

from __future__ import annotations


class LearnsimError(Exception):
    """Base class of all errors caused by the user's input, data or files."""


class SchemaError(LearnsimError, ValueError):
    """A feature schema (inputs/outputs with relations) breaks a rule.

    ``rule`` is a short stable identifier of the broken rule (``duplicate_name``, ``cycle``, ...), so tests
    and tools can tell rules apart without parsing the message.
    """

    def __init__(self, rule: str, message: str):
        super().__init__(f"[{rule}] {message}")
        self.rule = rule


class ConfigError(LearnsimError, ValueError):
    """A configuration (Python, YAML or CLI override) has an unknown key or an invalid value."""


class SimulationInputError(LearnsimError, ValueError):
    """Arguments of ``simulate()`` have wrong names, shapes or lengths."""


class DataError(LearnsimError, ValueError):
    """A dataset is unfit for training or cannot be read; the message names the column, episode and rows."""


class StoreError(LearnsimError):
    """A dataset or model name/version is invalid or missing in the local store."""


class TrainingError(LearnsimError):
    """Training stopped: non-finite loss, unusable checkpoint, resume mismatch."""


class FileCorruptError(LearnsimError):
    """A file learnsim reads is missing, truncated, corrupt or tampered with; the message names the file."""


class OutsideTrainingRangeWarning(UserWarning):
    """A free run went beyond the range of the data the model was trained on (past its extrapolation margin),
    where its predictions are extrapolations: said once per ``simulate()`` call, naming the features."""
