"""Load policy sets from YAML files (validated), and the sets that ship with ExportCenter.

A file holds one set (a mapping with ``name`` and ``rules``) or several (``policy_sets: [...]``).
A directory stands for every ``*.yaml`` / ``*.yml`` file in it, in name order. See docs/policy.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from exportcenter.errors import InvalidInputError
from exportcenter.policy.model import PolicySet

_MAX_REPORTED_ERRORS = 5


def load_policy_sets(paths: Iterable[Path]) -> dict[str, PolicySet]:
    """Every policy set in ``paths`` (files or directories), by name.

    Raises :class:`InvalidInputError` naming the file and the field for anything wrong: unreadable
    file, bad YAML, a field that fails validation, or one set name defined twice.
    """
    found: dict[str, PolicySet] = {}
    origin: dict[str, str] = {}
    for path in _expand(paths):
        for policy_set in load_policy_file(path):
            if policy_set.name in found:
                raise InvalidInputError(
                    f"{path}: policy set {policy_set.name!r} is already defined in {origin[policy_set.name]}",
                    file=str(path),
                )
            found[policy_set.name] = policy_set
            origin[policy_set.name] = str(path)
    return found


def load_policy_file(path: Path) -> list[PolicySet]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: policy file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read policy file ({exc})", file=str(path)) from None
    return parse_policy_sets(text, str(path))


def parse_policy_sets(text: str, name: str) -> list[PolicySet]:
    """Parse the YAML ``text`` of one policy file called ``name`` (used in error messages)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError(f"{name}: not valid YAML{where}: {problem}", file=name) from None
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"{name}: a policy file must be a mapping with 'name' and 'rules', or with 'policy_sets'", file=name
        )
    if "policy_sets" in document:
        extra = sorted(set(document) - {"policy_sets"})
        if extra:
            raise InvalidInputError(f"{name}: unexpected top-level key(s) next to 'policy_sets': {extra}",
                                    file=name)
        items = document["policy_sets"]
        if not isinstance(items, list) or not items:
            raise InvalidInputError(f"{name}: 'policy_sets' must be a non-empty list", file=name)
        return [_validate(item, name, f"policy_sets[{i}]") for i, item in enumerate(items)]
    return [_validate(document, name, "")]


def _validate(data: Any, name: str, prefix: str) -> PolicySet:
    try:
        return PolicySet.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        lines = [f"{_location(prefix, err['loc'])}: {err['msg']}" for err in errors[:_MAX_REPORTED_ERRORS]]
        if len(errors) > _MAX_REPORTED_ERRORS:
            lines.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
        first_field = _location(prefix, errors[0]["loc"]) if errors else prefix
        raise InvalidInputError(
            f"{name}: invalid policy set: " + "; ".join(lines), file=name, field=first_field
        ) from None


def _location(prefix: str, loc: Sequence[int | str]) -> str:
    """('rules', 2, 'when', 'kev') -> 'rules[2].when.kev' (pydantic's union branches are dropped)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part.startswith(("function-", "literal[")):
            continue  # a union branch tag such as "list[enum[VexStatus]]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


@lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[str, PolicySet], ...]:
    folder = resources.files("exportcenter.policy") / "sets"
    found: dict[str, PolicySet] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            for policy_set in parse_policy_sets(entry.read_text(encoding="utf-8"), f"builtin:{entry.name}"):
                found[policy_set.name] = policy_set
    return tuple(found.items())


def builtin_policy_sets() -> dict[str, PolicySet]:
    """The sets that ship with ExportCenter (``default``, ``strict``), by name."""
    return dict(_builtin())


def resolve_policy_sets(
    names: Sequence[str], available: Mapping[str, PolicySet] | None = None
) -> list[PolicySet]:
    """The named sets from ``available`` (default: the built-in ones); ``[]`` names -> ``default``.

    Raises :class:`InvalidInputError` listing the known names when one is unknown.
    """
    known = dict(available) if available is not None else builtin_policy_sets()
    wanted = list(names) or ["default"]
    missing = [n for n in wanted if n not in known]
    if missing:
        raise InvalidInputError(
            f"unknown policy set(s) {missing}; known: {sorted(known)}", policy_sets=missing
        )
    return [known[n] for n in wanted]
