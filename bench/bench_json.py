"""Benchmark the scan_report JSON renderer against the orjson floor of the same snapshot.

Usage: .venv/bin/python bench/bench_json.py [--sizes 1000,10000,50000] [--images 5] [--repeat 5]

The snapshot is bench_sarif's synthetic one (5 images, one CVSS entry, two references, remediation on).
Floors measured in the same run, interleaved with the renderer: ``orjson.dumps(snapshot)`` (the issue's
floor: dataclasses straight to compact JSON) and the same with the report's options (2-space indent,
sorted keys). The renderer writes to a temporary file. Each figure is the best of ``--repeat`` runs, as CPU time (``time.process_time``, what
this process itself spent: robust to other jobs on the machine) and wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from functools import partial
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sarif import Timing, peak_rss_of_one_render, rss_table, synthetic_snapshot, timed

from exportcenter.config import Settings
from exportcenter.model import ExportFormat, ExportSnapshot, ExportType
from exportcenter.renderers import json_reports
from exportcenter.renderers.base import RenderContext


def render_to_file(snapshot: ExportSnapshot, target: Path, sizes: list[int]) -> None:
    """Render scan_report JSON to a real file, as the pipeline's render stage does."""
    render = json_reports.RENDERERS[(ExportType.SCAN_REPORT, ExportFormat.JSON)]
    with open(target, "wb") as out:
        render(snapshot, out, RenderContext(settings=Settings()))
        sizes.append(out.tell())


def best(timings: list[Timing]) -> Timing:
    return min(t[0] for t in timings), min(t[1] for t in timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="peak RSS per size, one subprocess each")
    parser.add_argument("--rss-one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_one:
        peak_rss_of_one_render(args.rss_one, args.images,
                               json_reports.RENDERERS[(ExportType.SCAN_REPORT, ExportFormat.JSON)])
        return
    if args.rss:
        rss_table([int(part) for part in args.sizes.split(",")], args.images, __file__)
        return
    handle, name = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    target = Path(name)
    print("findings  render_cpu  render_wall  floor_cpu  floor_wall  floor_same_opts_cpu  "
          "ratio_cpu  ratio_wall  bytes")
    for size in (int(part) for part in args.sizes.split(",")):
        snapshot = synthetic_snapshot(size, args.images)
        sizes: list[int] = []
        run_render = partial(render_to_file, snapshot, target, sizes)
        ours: list[Timing] = []
        floor: list[Timing] = []
        floor_opts: list[Timing] = []
        options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        for _ in range(args.repeat):  # interleaved, so that load from other jobs hits all three alike
            ours.append(timed(run_render))
            floor.append(timed(lambda: orjson.dumps(snapshot)))  # noqa: B023
            floor_opts.append(timed(lambda: orjson.dumps(snapshot, option=options)))  # noqa: B023
        (cpu, wall), (floor_cpu, floor_wall), (opts_cpu, _) = best(ours), best(floor), best(floor_opts)
        print(f"{size:8d}  {cpu:10.3f}  {wall:11.3f}  {floor_cpu:9.3f}  {floor_wall:10.3f}  {opts_cpu:19.3f}  "
              f"{cpu / floor_cpu:9.2f}  {wall / floor_wall:10.2f}  {sizes[-1]}")
    target.unlink()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
