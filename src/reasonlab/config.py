"""Typed configuration: YAML files validated into pydantic models, and the one override mechanism.

Every config model derives from :class:`StrictModel`, which forbids unknown fields. Validation
failures become a one-line :class:`ReasonlabError` naming the file, the field and what is allowed.

Overrides are applied to the raw mapping before validation, one way everywhere: ``--set a.b=VALUE``
assignments (:func:`apply_assignments`, values parsed as YAML) and nested mappings merged over a
base (:func:`deep_merge`, what a recipe step's ``overrides`` does). ``NAME=VALUE`` lists on the
command line (task knobs, reward arguments) go through :func:`parse_key_values`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from reasonlab.errors import ReasonlabError
from reasonlab.io import MAX_DEPTH

#: Most YAML nodes a config may expand to (aliases counted once per use): real configs have a few
#: hundred; a 442-byte alias bomb expands to millions.
MAX_YAML_NODES = 100_000
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def check_name(value: str) -> str:
    """``value`` if it is a plain name (letters, digits, ``_ . -``; no separator, no ``..``); ValueError otherwise.

    Run, recipe and step names become directory names under ``out_dir``, so a name can never reach
    outside it (``..``, ``/x``, ``a/b``) or hide (a leading dot).
    """
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not a plain name: use letters, digits, '_', '.' and '-' (no '/', no '..', no leading dot)"
        )
    return value


#: A run, recipe or step name: a plain directory name (:func:`check_name`).
Name = Annotated[str, AfterValidator(check_name)]

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for configs: unknown fields are errors, values are validated on assignment, no inf or nan."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def format_validation_error(exc: ValidationError, source: str, model: type[BaseModel]) -> str:
    """Render the first pydantic error as ``source: field 'a.b': message (allowed: ...)``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "<root>"
    msg = err["msg"].removeprefix("Value error, ")
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


class _BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses documents nested deeper than :data:`MAX_DEPTH` (anchors stay usable)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes the composed document expands to when every alias is replaced by its anchor (memoised)."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a recursive anchor counts once (safe_load refuses it later anyway)
        if isinstance(node, yaml.SequenceNode):
            memo[key] = 1 + sum(_expanded_size(n, memo) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    return memo[key]


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely: no tags beyond plain data, bounded nesting and alias expansion."""
    try:
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
                raise ReasonlabError(
                    f"{source}: YAML expands to more than {MAX_YAML_NODES:,} nodes (an alias bomb?); refusing it"
                )
            return None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ReasonlabError(f"{source}{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except RecursionError:
        raise ReasonlabError(f"{source}: YAML nested too deeply") from None


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    src = Path(path)
    if not src.is_file():
        raise ReasonlabError(f"{src}: no such config file")
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReasonlabError(f"{src}: not UTF-8 text") from None
    except OSError as exc:
        raise ReasonlabError(f"{src}: cannot read ({exc.strerror or type(exc).__name__})") from None
    data = parse_yaml(text, str(src))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ReasonlabError(f"{src}: expected a YAML mapping at the top level")
    return data


def load_config(
    path: str | os.PathLike[str],
    model: type[M],
    assignments: Iterable[str] = (),
    overrides: dict[str, Any] | None = None,
) -> M:
    """Load a YAML file, merge ``overrides`` and ``--set`` ``assignments`` over it, validate into ``model``."""
    data = load_yaml(path)
    if overrides:
        data = deep_merge(data, overrides)
    return validate(model, apply_assignments(data, assignments), source=str(path))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_assignments(data: dict[str, Any], assignments: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set a.b.c=VALUE`` assignments (values parsed as YAML) to a config mapping, in place.

    A numeric part indexes a list (``data.mixture.0.knobs.order=topo``: the first mixture component's knob).
    """
    for item in assignments:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise ReasonlabError(f"--set {item!r}: use --set field.sub=value")
        node: Any = data
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[_list_index(node, part, item)]
                continue
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict | list):
                raise ReasonlabError(f"--set {item!r}: {part!r} is not a section")
            node = child
        value = parse_yaml(raw, f"--set {item!r}")
        if isinstance(node, list):
            node[_list_index(node, parts[-1], item)] = value
        else:
            node[parts[-1]] = value
    return data


def _list_index(items: list[Any], part: str, item: str) -> int:
    """``part`` as an index into ``items``, or a one-line error naming the assignment and the valid range."""
    if not part.isdigit() or int(part) >= len(items):
        raise ReasonlabError(f"--set {item!r}: {part!r} indexes a list of {len(items)}; use 0..{len(items) - 1}")
    return int(part)


def parse_key_values(
    items: Iterable[str], option: str, convert: Callable[[str], Any] = str, example: str = "NAME=VALUE"
) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": convert("1"), "b": convert("x")}``; one-line errors name ``option``.

    Keys have ``-`` replaced by ``_`` (``num-mode=mod`` is the knob ``num_mode``).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ReasonlabError(f"{option} {item!r}: expected {example}")
        try:
            out[key.strip().replace("-", "_")] = convert(value)
        except ValueError:
            raise ReasonlabError(f"{option} {item!r}: expected {example}") from None
    return out


def dump_config(config: BaseModel) -> str:
    """The fully resolved config as YAML (what a run directory records)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
