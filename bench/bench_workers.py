"""Exports per minute of a mid-size scan (JSON + SARIF + XLSX each round) with 1, 2 and 4 procrastinate
worker processes and with the embedded executor, in one run on the same PostgreSQL; queue latency p50/p99
from POST to processing (exports.started_at - exports.created_at).

    .venv/bin/python bench/bench_workers.py [--rounds 10] [--scan tests/fixtures/data/scans/...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from tests.integration.conftest import export_body, upload  # noqa: E402
from tests.integration.pg_cluster import (  # noqa: E402
    WorkerProcess,
    api_server,
    fresh_database,
    run_cli,
    shared_settings,
)

from exportcenter.db.engine import make_engine, session_factory  # noqa: E402
from exportcenter.db.models import ExportRow  # noqa: E402

FORMATS = (("scan_report", "json"), ("scan_report", "sarif"), ("vulnerability_report", "xlsx"))
DEFAULT_SCAN = ROOT / "tests" / "fixtures" / "data" / "scans" / "trivy_json_juice-shop-v12.10.2.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_config(label: str, workers: int, rounds: int, scan: Path) -> dict[str, float | str]:
    databases = fresh_database()
    database = next(databases)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        executor = "embedded" if workers == 0 else "procrastinate"
        shared = shared_settings(database, root / "store", tenant_max_concurrent_exports="100000",
                                 worker_concurrency="2" if workers == 0 else "1")
        shared["EXPORTCENTER_EXECUTOR"] = executor
        assert run_cli(root / "cli", shared, "db", "upgrade").returncode == 0
        api = api_server(root / "api", shared)
        procs = [WorkerProcess(root / f"w{i}", shared, concurrency=1) for i in range(workers)]
        engine = make_engine(database)
        try:
            for proc in procs:
                proc.start()
            time.sleep(1.5)  # workers connected and listening
            client = api.client("bench")
            scan_id = upload(client, scan)
            bodies = [export_body(scan_id, fmt, kind) for _ in range(rounds) for kind, fmt in FORMATS]
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(lambda b: client.post("/api/v1/exports", json=b).json()["export_id"], bodies))
            sessions = session_factory(engine)
            while True:
                with sessions() as session:
                    rows = list(session.scalars(select(ExportRow).where(ExportRow.id.in_(ids))))
                if all(r.status in ("completed", "failed") for r in rows):
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            failed = [r.error for r in rows if r.status != "completed"]
            assert not failed, failed[:3]
            waits = [(r.started_at - r.created_at).total_seconds() for r in rows if r.started_at]
            return {"config": label, "exports": len(rows), "seconds": round(elapsed, 1),
                    "per_minute": round(len(rows) / elapsed * 60, 1),
                    "p50": round(statistics.median(waits), 2), "p99": round(percentile(waits, 0.99), 2)}
        finally:
            for proc in procs:
                proc.terminate(10)
            api.stop()
            engine.dispose()
            for _ in databases:
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of JSON+SARIF+XLSX per configuration")
    parser.add_argument("--scan", type=Path, default=DEFAULT_SCAN)
    args = parser.parse_args()
    print(f"scan {args.scan.name} ({args.scan.stat().st_size // 1024} KiB), {args.rounds} rounds x "
          f"{'+'.join(fmt for _, fmt in FORMATS)}")
    print(f"{'config':<28}{'exports':>8}{'seconds':>9}{'exp/min':>9}{'p50 s':>8}{'p99 s':>8}")
    for label, workers in (("embedded (API, 2 threads)", 0), ("procrastinate x1", 1), ("procrastinate x2", 2),
                           ("procrastinate x4", 4)):
        result = run_config(label, workers, args.rounds, args.scan)
        print(f"{result['config']:<28}{result['exports']:>8}{result['seconds']:>9}{result['per_minute']:>9}"
              f"{result['p50']:>8}{result['p99']:>8}", flush=True)


if __name__ == "__main__":
    main()
