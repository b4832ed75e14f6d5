"""Read schedules from a YAML file in the spec's form: a top-level ``schedules:`` list (or one mapping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from exportcenter.errors import InvalidInputError
from exportcenter.scheduling.model import ScheduleSpec

MAX_FILE_BYTES = 1024 * 1024


def parse_schedules(text: str, source: str = "<text>") -> list[ScheduleSpec]:
    specs, problems = parse_schedule_entries(text, source)
    if problems:
        raise InvalidInputError(f"{source}: invalid schedules: " + "; ".join(problems), errors=problems)
    return specs


def parse_schedule_entries(text: str, source: str = "<text>") -> tuple[list[ScheduleSpec], list[str]]:
    """The valid schedules and one problem line per invalid field of the others (a file error raises)."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{source}: not valid YAML: {exc}") from exc
    if isinstance(document, dict) and "schedules" in document:
        entries = document["schedules"]
    elif isinstance(document, dict):
        entries = [document]
    else:
        entries = document
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(f"{source}: expected 'schedules:' with a list of schedules")
    specs: list[ScheduleSpec] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label = entry.get("name", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
        try:
            specs.append(ScheduleSpec.model_validate(entry))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "schedule"
                problems.append(f"schedule {label}: {where}: {error['msg']}")
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate schedule names: {', '.join(duplicates)}")
    return specs, problems


def read_schedule_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInputError(f"{path}: schedule file is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read schedule file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: schedule file is not UTF-8 text") from exc
    return text


def load_schedules(path: Path) -> list[ScheduleSpec]:
    return parse_schedules(read_schedule_file(path), str(path))
