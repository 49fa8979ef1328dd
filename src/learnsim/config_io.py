"""Typed configs from YAML files, plain dicts and ``--set a.b.c=value`` overrides: one schema, one error style.

Every config is a pydantic model that rejects unknown keys; what goes wrong is reported as
``dotted.field: message (got value)``, whether the config came from Python, a YAML file or the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from learnsim.errors import ConfigError

Config = TypeVar("Config")


def format_validation_error(error, data=None) -> str:
    """One ``dotted.field: message (got value)`` per problem, joined by '; '.

    Discriminated unions put the member's tag into an error's location ('training.optimizer.adamw.lr');
    walking the validated ``data`` along the location tells a tag (not a key of the input) from a field,
    so the tag is dropped and the path reads as the user wrote it.
    """
    lines = []
    for item in error.errors():
        location = _user_path(item["loc"], data)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "union_tag_invalid":  # the member is picked by its 'type' field
            location = [*location, "type"]
            message = f"unknown type {item['ctx']['tag']!r}; expected one of {item['ctx']['expected_tags']}"
        given = item.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{'.'.join(location)}: {message}{shown}" if location else f"{message}{shown}")
    return "; ".join(lines)


def _user_path(location: tuple, data) -> list[str]:
    parts, current = [], data
    for index, part in enumerate(location):
        last = index == len(location) - 1
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and isinstance(part, int) and part < len(current):
            current = current[part]
        elif hasattr(current, "model_fields") and isinstance(part, str) and hasattr(current, part):
            current = getattr(current, part)
        elif (
            isinstance(part, str)
            and not last
            and (isinstance(current, dict) or hasattr(current, "model_fields"))
        ):
            continue  # a union member's tag: not in the input, so not part of the path the user wrote
        else:
            current = None
        parts.append(str(part))
    return parts


def parse_override(override: str) -> tuple[list[str], object]:
    """'section.field=value' -> (['section', 'field'], value parsed as YAML)."""
    import yaml

    key, sep, raw = override.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{override}' must look like section.field=value")
    if any(part.isdigit() or "[" in part or "]" in part for part in key.split(".")):
        field = key.split("[")[0].split(".")
        field = ".".join(p for p in field if not p.isdigit())
        raise ConfigError(
            f"override '{override}': a list element cannot be set by its index; give the whole list, e.g. "
            f"--set '{field}=[...]' (YAML: inputs as [{{name: ..., ...}}, ...], numbers as [1, 10, 50])"
        )
    if not raw.strip():
        raise ConfigError(
            f"override '{override}' has no value (an empty value would silently reset the field to its default): "
            f"give one, or write {key}=null to clear it on purpose"
        )
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise ConfigError(f"override '{override}': the value is not valid YAML ({problem})") from None
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply 'dotted.key=value' overrides (values parsed as YAML) to a nested dict, in order."""
    for override in overrides:
        parts, value = parse_override(override)
        target = data
        for part in parts[:-1]:
            if target.get(part) is None:
                target[part] = {}
            if not isinstance(target[part], dict):
                raise ConfigError(f"override '{override}': '{part}' is a value, not a section")
            target = target[part]
        target[parts[-1]] = value
    return data


def read_yaml_mapping(path: str | Path, what: str) -> dict:
    """The mapping at the top of a YAML file; errors name the file and say what was expected."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file" if not path.exists() else f"{path}: not a file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{path}: expected a mapping with {what}, got {got}")
    return data


def validate(cls: type[Config], data, source: str | None = None) -> Config:
    """``cls.model_validate(data)``, with pydantic's errors turned into one ``ConfigError``."""
    from pydantic import ValidationError

    try:
        return cls.model_validate(data)
    except ValidationError as error:
        message = format_validation_error(error, data)
        raise ConfigError(f"{source}: {message}" if source else message) from None


def load_config(
    cls: type[Config],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    data: dict | None = None,
    what: str = "the config's sections",
) -> Config:
    """Read a YAML file (or take ``data``), apply overrides, validate into ``cls``."""
    source = "config"
    if path is not None:
        data = read_yaml_mapping(path, what)
        source = str(path)
    elif data is not None and not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping with {what}, got a {type(data).__name__}")
    data = apply_overrides(dict(data or {}), overrides or [])
    return validate(cls, data, source)


def dump_yaml(config) -> str:
    """A config as YAML that loads back to an equal config."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
