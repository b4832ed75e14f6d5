"""Writes a SARIF log run by run: results and rules are built a chunk at a time, serialised and dropped.

The bytes are those of ``jsonio.dumps(log, indent=False)`` on the whole log (compact, keys sorted):
every part is written by the serializer. The log and each run are serialised with a placeholder string
where a long list goes (``runs``, ``results``, ``rules``); the list's items are then serialised in chunks
and written where the placeholder stood, joined by commas as the serializer joins them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from exportcenter import __version__
from exportcenter.model import ExportSnapshot
from exportcenter.renderers.sarif_model import RunDraft, SarifEntry
from exportcenter.renderers.sarif_sink import LogSink
from exportcenter.util.jsonio import dumps
from exportcenter.util.timeutil import iso_z

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
DRIVER_NAME = "ExportCenter"
RESULTS_PER_CHUNK = 1000
RULES_PER_CHUNK = 250

Writer = Callable[[LogSink], None]


class _Placeholders:
    """Unique strings standing in for streamed lists, and where they landed in serialised bytes."""

    def __init__(self) -> None:
        token = uuid.uuid4().hex
        self.runs = f"exportcenter/sarif/runs/{token}"
        self.results = f"exportcenter/sarif/results/{token}"
        self.rules = f"exportcenter/sarif/rules/{token}"

    @staticmethod
    def split(data: bytes, markers: list[str]) -> list[bytes] | None:
        """``data`` cut at each marker (in the order they occur), or None when a marker is not there
        exactly once (a value equal to it, in theory)."""
        found = []
        for marker in markers:
            encoded = orjson.dumps(marker)
            at = data.find(encoded)
            if at < 0 or data.find(encoded, at + 1) >= 0:
                return None
            found.append((at, len(encoded)))
        pieces, position = [], 0
        for at, length in sorted(found):
            pieces.append(data[position:at])
            position = at + length
        pieces.append(data[position:])
        return pieces


def _write_list(sink: LogSink, chunks: Iterable[list[Any]]) -> None:
    """``[item, item, ...]`` from lists of items, each list serialised at once."""
    sink.write(b"[")
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        data = dumps(chunk, indent=False)
        if not first:
            sink.write(b",")
        sink.write(data[1:-1])
        first = False
    sink.write(b"]")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class LogWriter:
    """Writes the log of one render; called once per attempt (each gzip cut writes it again)."""

    def __init__(self, snapshot: ExportSnapshot, profile: str) -> None:
        self.snapshot = snapshot
        self.profile = profile
        self._custom_fields = dict(sorted(snapshot.custom_fields.items()))
        self.results_written = 0  # results handed to the sink by the current attempt

    def write(self, sink: LogSink, drafts: list[RunDraft]) -> None:
        self.results_written = 0
        marks = _Placeholders()
        snapshot = self.snapshot
        log: dict[str, Any] = {
            "$schema": SARIF_SCHEMA_URI,
            "version": SARIF_VERSION,
            "runs": marks.runs,
            "properties": {"export_type": snapshot.export_type, "tenant": snapshot.tenant,
                           "generated_at": iso_z(snapshot.generated_at), "profile": self.profile},
        }
        pieces = marks.split(dumps(log, indent=False), [marks.runs])
        if pieces is None:  # cannot happen with a fresh uuid; kept for a correct log regardless
            log["runs"] = [self._run_document(draft) for draft in drafts]
            sink.write(dumps(log, indent=False))
            return
        sink.write(pieces[0])
        sink.write(b"[")
        for number, draft in enumerate(drafts):
            if number:
                sink.write(b",")
            self._write_run(sink, draft, marks)
        sink.write(b"]")
        sink.write(pieces[1])

    def _parts(self, draft: RunDraft) -> tuple[dict[str, Any], list[str], dict[str, list[SarifEntry]]]:
        """The run without its results and rules, the rule ids in order and each rule's entries."""
        by_rule: dict[str, list[SarifEntry]] = {}
        for entry in draft.entries:
            by_rule.setdefault(entry.rule_id, []).append(entry)
        properties = dict(draft.properties)
        properties["exportcenter/results"] = len(draft.entries)
        properties["exportcenter/profile"] = self.profile
        properties["custom_fields"] = dict(self._custom_fields)
        driver: dict[str, Any] = {
            "name": DRIVER_NAME,
            "version": __version__,
            "semanticVersion": __version__,
            "rules": [],
            "properties": draft.driver_properties,
        }
        run = {
            "tool": {"driver": driver},
            "automationDetails": {"id": draft.category},
            "results": [],
            "properties": properties,
        }
        return run, sorted(by_rule), by_rule

    def _run_document(self, draft: RunDraft) -> dict[str, Any]:
        """The whole run as one dict (only for the fallback)."""
        run, rule_ids, by_rule = self._parts(draft)
        index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
        run["tool"]["driver"]["rules"] = [draft.build_rule(rule_id, by_rule[rule_id]) for rule_id in rule_ids]
        run["results"] = [draft.build_result(entry, index[entry.rule_id]) for entry in draft.entries]
        return run

    def _write_run(self, sink: LogSink, draft: RunDraft, marks: _Placeholders) -> None:
        run, rule_ids, by_rule = self._parts(draft)
        run["results"] = marks.results
        run["tool"]["driver"]["rules"] = marks.rules
        data = dumps(run, indent=False)
        order = sorted((data.find(orjson.dumps(marker)), marker) for marker in (marks.results, marks.rules))
        pieces = marks.split(data, [marks.results, marks.rules])
        if pieces is None:
            sink.write(dumps(self._run_document(draft), indent=False))
            return
        index = {rule_id: position for position, rule_id in enumerate(rule_ids)}

        def results() -> Iterator[list[dict[str, Any]]]:
            build = draft.build_result
            for chunk in _chunks(draft.entries, RESULTS_PER_CHUNK):
                self.results_written += len(chunk)
                yield [build(entry, index[entry.rule_id]) for entry in chunk]

        def rules() -> Iterator[list[dict[str, Any]]]:
            build = draft.build_rule
            for chunk in _chunks(rule_ids, RULES_PER_CHUNK):
                yield [build(rule_id, by_rule[rule_id]) for rule_id in chunk]

        streams = {marks.results: results, marks.rules: rules}
        sink.write(pieces[0])
        for (_, marker), piece in zip(order, pieces[1:], strict=True):
            _write_list(sink, streams[marker]())
            sink.write(piece)
