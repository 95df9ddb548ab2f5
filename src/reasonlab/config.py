"""Typed configuration: YAML files validated into pydantic models.

Every config model derives from :class:`StrictModel`, which forbids unknown fields. Validation
failures become a one-line :class:`ReasonlabError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from reasonlab.errors import ReasonlabError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for configs: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def format_validation_error(exc: ValidationError, source: str, model: type[BaseModel]) -> str:
    """Render the first pydantic error as ``source: field 'a.b': message (allowed: ...)``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "<root>"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        fields = model.model_fields if len(err["loc"]) == 1 else {}
        allowed = f" (allowed: {', '.join(fields)})" if fields else ""
        return f"{source}: unknown field {loc!r}{allowed}"
    return f"{source}: field {loc!r}: {msg}"


def validate(model: type[M], data: Any, source: str = "config") -> M:
    """Validate ``data`` into ``model`` or raise a one-line ReasonlabError."""
    if not isinstance(data, dict):
        raise ReasonlabError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ReasonlabError(format_validation_error(exc, source, model)) from None


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    src = Path(path)
    if not src.is_file():
        raise ReasonlabError(f"{src}: no such config file")
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ReasonlabError(f"{src}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ReasonlabError(f"{src}: expected a YAML mapping at the top level")
    return data


def load_config(path: str | os.PathLike[str], model: type[M]) -> M:
    """Load a YAML file and validate it into ``model``."""
    return validate(model, load_yaml(path), source=str(path))


def dump_config(config: BaseModel) -> str:
    """The fully resolved config as YAML (what a run directory records)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
