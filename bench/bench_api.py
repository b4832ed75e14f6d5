"""API benchmark: POST /api/v1/exports latency and throughput with 50 concurrent clients, status GET latency.

Starts a real `serve` (Uvicorn, SQLite, filesystem store, embedded workers) in a temporary home, uploads a
small real scan, then runs
  1. open loop: POSTs at a fixed rate (default 200/s) from 50 concurrent clients -> p50/p99/max latency,
  2. closed loop: 50 clients POSTing as fast as they can -> sustained submissions/s,
  3. 50 clients GETting export status -> p50/p99,
  baseline: the same 50 clients on GET /healthz (the server + client floor, no database).
Usage: .venv/bin/python bench/bench_api.py [--rate 200] [--seconds 10] [--no-workers]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.conftest import SMALL_SCAN, Server, upload  # noqa: E402

CLIENTS = 50


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def summary(name: str, latencies: list[float], errors: int, elapsed: float) -> str:
    return (f"{name:<28} n={len(latencies):>6}  p50={pct(latencies, 50):7.2f} ms  p99={pct(latencies, 99):7.2f} ms"
            f"  max={max(latencies) * 1000:7.1f} ms  rate={len(latencies) / elapsed:7.1f}/s  errors={errors}")


async def open_loop(client: httpx.AsyncClient, body: dict[str, object], rate: float, seconds: float
                    ) -> tuple[list[float], int, float]:
    """Requests start on a fixed schedule (no coordinated omission), at most CLIENTS in flight."""
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(CLIENTS)
    start = time.perf_counter()

    async def one(due: float) -> None:
        nonlocal errors
        async with gate:
            try:
                response = await client.post("/api/v1/exports", json=body)
                errors += response.status_code != 202
            except httpx.TransportError:
                errors += 1
            latencies.append(time.perf_counter() - due)

    tasks = []
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - start


async def closed_loop(client: httpx.AsyncClient, method: str, paths: list[str], body: dict[str, object] | None,
                      seconds: float, ok: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop = start + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                response = await client.request(method, random.choice(paths), json=body)
                errors += response.status_code != ok
            except httpx.TransportError:
                errors += 1
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return latencies, errors, time.perf_counter() - start


async def serial(client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None, ok: int,
                 count: int) -> tuple[list[float], int, float]:
    """One request at a time: the server's own cost per request, without queueing."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    for _ in range(count):
        began = time.perf_counter()
        response = await client.request(method, path, json=body)
        latencies.append(time.perf_counter() - began)
        errors += response.status_code != ok
    return latencies, errors, time.perf_counter() - start


async def run(server: Server, rate: float, seconds: float) -> list[str]:
    with server.client("bench") as sync_client:
        scan_id = upload(sync_client, SMALL_SCAN)
    body: dict[str, object] = {"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]}}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    lines = []
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("bench", ttl=3600), limits=limits,
                                 timeout=30) as client:
        await closed_loop(client, "GET", ["/healthz"], None, 1.0, 200)  # warm up connections
        lat, err, el = await closed_loop(client, "GET", ["/healthz"], None, seconds / 2, 200)
        lines.append(summary("baseline GET /healthz", lat, err, el))
        for name, method, path, payload, ok in (("serial GET /healthz", "GET", "/healthz", None, 200),
                                                ("serial POST (1 client)", "POST", "/api/v1/exports", body, 202)):
            lat, err, el = await serial(client, method, path, payload, ok, 200)
            lines.append(summary(name, lat, err, el))
        lat, err, el = await open_loop(client, body, rate, seconds)
        lines.append(summary(f"POST open loop @{rate:.0f}/s", lat, err, el))
        lat, err, el = await closed_loop(client, "POST", ["/api/v1/exports"], body, seconds / 2, 202)
        lines.append(summary("POST closed loop (max)", lat, err, el))
        page = (await client.get("/api/v1/exports", params={"limit": 200})).json()["items"]
        paths = [f"/api/v1/exports/{item['export_id']}" for item in page]
        lat, err, el = await serial(client, "GET", paths[0], None, 200, 200)
        lines.append(summary("serial GET status (1 client)", lat, err, el))
        lat, err, el = await closed_loop(client, "GET", paths, None, seconds / 2, 200)
        lines.append(summary("GET status closed loop", lat, err, el))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-workers", action="store_true", help="API only: no export runs compete for CPU")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = Server(home, {"EXPORTCENTER_TENANT_MAX_CONCURRENT_EXPORTS": "1000000"})
    if args.no_workers:
        server.extra_args.append("--no-workers")  # exports stay queued: only the API uses the CPU
    server.start()
    try:
        lines = asyncio.run(run(server, args.rate, args.seconds))
    finally:
        server.stop()
    print(f"# {os.cpu_count()} CPUs, {CLIENTS} concurrent clients, workers {'off' if args.no_workers else 'on'}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
