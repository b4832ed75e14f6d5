"""GitHub code scanning's upload limits, enforced deterministically and counted.

- runs per file (20): runs are ordered by their worst finding, then category; the first ``max_runs - 1``
  stay, the rest are merged into one overflow run (fingerprints keep their subject, so nothing collides);
- results per run (25,000): the most severe results are kept, ties broken by rule id and fingerprint;
- gzipped size (10 MB): the least severe results of the whole log are dropped until it fits (large
  logs are first checked against a sampled overestimate, see ``fits_gzip``). A log whose sampled
  estimate is more than ``FAR_OVER_FACTOR`` times the limit is never compressed whole: how many results
  to keep comes from the estimate, and only the cut log is measured.
Every cut is written into the run's ``properties`` and reported through a warning.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

from exportcenter.model import SEVERITY_ORDER
from exportcenter.renderers.sarif_model import RunDraft, SarifEntry

TRUNCATED_KEY = "exportcenter/truncated"
MERGED_KEY = "exportcenter/merged_subjects"
SAMPLE_BLOCK = 64 * 1024  # bytes compressed per sample when estimating the gzipped size
SAMPLE_EVERY = 8  # one block in this many is compressed
MIN_SAMPLES = 16  # below this many blocks the whole log is compressed
QUICK_CHECK_CEILING = 1.25  # estimate / limit above which the level-1 check is skipped
FAR_OVER_FACTOR = 2.0  # estimate / limit above which the cut is chosen from the estimate alone


def limit_runs(drafts: list[RunDraft], max_runs: int, export_type: str) -> tuple[list[RunDraft], str | None]:
    """At most ``max_runs`` runs: overflow runs merged into the last one. Returns the runs and a warning."""
    drafts = sorted(drafts, key=lambda d: (-d.worst_rank, d.category))
    limit = max(1, max_runs)
    if len(drafts) <= limit:
        return sorted(drafts, key=lambda d: d.category), None
    kept, overflow = drafts[: limit - 1], drafts[limit - 1:]
    merged = RunDraft(
        category=f"exportcenter/{export_type}/merged/",
        subject="merged",
        entries=[entry for draft in overflow for entry in draft.entries],
        build_rule=overflow[0].build_rule,
        build_result=overflow[0].build_result,
        driver_properties=overflow[0].driver_properties,
    )
    merged.merged_subjects = sorted(subject for draft in overflow
                                    for subject in [draft.subject, *draft.merged_subjects])
    merged.properties = _merge_properties([draft.properties for draft in overflow])
    merged.properties[MERGED_KEY] = merged.merged_subjects
    merged.sort()
    warning = (f"SARIF: {len(drafts)} scanned subjects exceed the limit of {limit} runs; "
               f"{len(overflow)} were merged into one run '{merged.category}'")
    return sorted([*kept, merged], key=lambda d: d.category), warning


def _merge_properties(bags: list[dict[str, Any]]) -> dict[str, Any]:
    """Counters (int values, or dicts of int values) are summed; anything else keeps the first value."""
    merged: dict[str, Any] = {}
    for bag in bags:
        for key, value in bag.items():
            if isinstance(value, int) and not isinstance(value, bool):
                merged[key] = merged.get(key, 0) + value
            elif isinstance(value, dict) and all(isinstance(v, int) for v in value.values()):
                counter = Counter(merged.get(key, {}))
                counter.update(value)
                merged[key] = dict(sorted(counter.items()))
            else:
                merged.setdefault(key, value)
    return merged


def _severity_counts(entries: list[SarifEntry]) -> dict[str, int]:
    counts = Counter(entry.severity.value for entry in entries)
    return {severity.value: counts[severity.value] for severity in SEVERITY_ORDER if counts[severity.value]}


def record_cut(draft: RunDraft, dropped: list[SarifEntry], reason: str, limit: int) -> None:
    """Add a cut to the run's ``exportcenter/truncated`` property (several cuts add up)."""
    if not dropped:
        return
    info = draft.properties.setdefault(TRUNCATED_KEY, {"results_dropped": 0, "by_reason": {},
                                                       "dropped_by_severity": {}})
    info["results_dropped"] += len(dropped)
    info["by_reason"][reason] = {"dropped": info["by_reason"].get(reason, {}).get("dropped", 0) + len(dropped),
                                 "limit": limit}
    by_severity = Counter(info["dropped_by_severity"])
    by_severity.update(_severity_counts(dropped))
    info["dropped_by_severity"] = {s.value: by_severity[s.value] for s in SEVERITY_ORDER
                                   if by_severity[s.value]}


def limit_results(draft: RunDraft, max_results: int) -> str | None:
    """Keep the ``max_results`` most severe results of a (sorted) run. Returns a warning when cut."""
    if len(draft.entries) <= max_results:
        return None
    limit = max(0, max_results)
    dropped = draft.entries[limit:]
    draft.entries = draft.entries[:limit]
    record_cut(draft, dropped, "max_results_per_run", limit)
    return (f"SARIF: run '{draft.category}' had {limit + len(dropped)} results, over the limit of {limit}; "
            f"the {len(dropped)} least severe were left out (counted in run properties)")


def gzip_size(data: bytes) -> int:
    """Size of ``data`` gzip-compressed at the default level (zlib stream + gzip's 18-byte frame)."""
    return len(zlib.compress(data, 6)) + 12


def estimated_gzip_size(data: bytes) -> int:
    """An overestimate of ``gzip_size(data)`` from one block in ``SAMPLE_EVERY``, each compressed on its
    own at level 1 (an empty window and the fast level both make blocks compress worse than the whole
    stream at level 6: measured 1.37x the real size on 85 MB of SARIF) and scaled to the whole length."""
    stride = SAMPLE_BLOCK * SAMPLE_EVERY
    raw = compressed = 0
    for start in range(0, len(data), stride):
        block = data[start:start + SAMPLE_BLOCK]
        raw += len(block)
        compressed += len(zlib.compress(block, 1))
    return compressed * len(data) // max(raw, 1) + 12


def fits_gzip(data: bytes, max_gzip_bytes: int) -> tuple[bool, int]:
    """(fits, measured or estimated size). Raw data under the limit cannot exceed it compressed by more
    than the frame, so compressing is skipped for it. A large log whose sampled overestimate is under the
    limit is not compressed either (1/8 of the work); only near the limit is the whole log compressed."""
    if len(data) + 64 <= max_gzip_bytes:
        return True, len(data)
    if len(data) >= SAMPLE_BLOCK * SAMPLE_EVERY * MIN_SAMPLES:
        estimate = estimated_gzip_size(data)
        if estimate <= max_gzip_bytes:
            return True, estimate
        if estimate > max_gzip_bytes * QUICK_CHECK_CEILING:
            # far over the limit: the caller needs the real size to decide how much to cut, and the
            # level-1 check would at best say "fits" where the (never larger) real size says so too
            size = gzip_size(data)
            return size <= max_gzip_bytes, size
    # level 1 is about three times faster and never smaller than level 6 in practice: when it fits,
    # the default-level gzip an uploader makes fits too
    quick = len(zlib.compress(data, 1)) + 12
    if quick <= max_gzip_bytes:
        return True, quick
    size = gzip_size(data)
    return size <= max_gzip_bytes, size


def shrink_to_fit(drafts: list[RunDraft], keep_fraction: float, max_gzip_bytes: int) -> int:
    """Drop the least severe results across all runs so that ``keep_fraction`` of them remain.

    The global order is severity, then category, then the run's own order; returns how many were dropped.
    """
    ranked = sorted(((entry.order_key, draft.category, index) for draft in drafts
                     for index, entry in enumerate(draft.entries)))
    keep = int(len(ranked) * keep_fraction)
    drop_positions: dict[str, set[int]] = {}
    for _, category, index in ranked[keep:]:
        drop_positions.setdefault(category, set()).add(index)
    for draft in drafts:
        positions = drop_positions.get(draft.category)
        if not positions:
            continue
        dropped = [entry for index, entry in enumerate(draft.entries) if index in positions]
        draft.entries = [entry for index, entry in enumerate(draft.entries) if index not in positions]
        record_cut(draft, dropped, "max_gzip_bytes", max_gzip_bytes)
    return len(ranked) - keep
