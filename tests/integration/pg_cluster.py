"""PostgreSQL test support: a fresh database per test session, API replicas and worker processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Server

ADMIN_URL = os.environ.get("EXPORTCENTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_unreachable_reason() -> str | None:
    import psycopg

    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL not reachable at {ADMIN_URL}: {exc}"
    return None


def fresh_database() -> Iterator[str]:
    """CREATE DATABASE ec_test_<random>, migrated with `exportcenter db upgrade`; dropped afterwards."""
    import psycopg

    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    name = f"ec_test_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def cli_env(home: Path, shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPORTCENTER_")}
    env.update({"EXPORTCENTER_HOME": str(home), "EXPORTCENTER_LOG_JSON": "false", "SOURCE_DATE_EPOCH": "",
                **shared})
    return env


def run_cli(home: Path, shared: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exportcenter.cli.main", *args], env=cli_env(home, shared),
                          capture_output=True, text=True, timeout=120)


class WorkerProcess:
    def __init__(self, home: Path, shared: dict[str, str], concurrency: int = 2) -> None:
        self.home = home
        self.shared = shared
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "worker-stdout.log"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exportcenter.cli.worker_cmds", "worker", "--concurrency",
                 str(self.concurrency)], env=cli_env(self.home, self.shared), stdout=log, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def api_server(home: Path, shared: dict[str, str]) -> Server:
    extra = {k: v for k, v in shared.items() if k != "EXPORTCENTER_HOME"}
    server = Server(home, extra)
    server.start()
    return server


def shared_settings(database_url: str, storage: Path, **extra: str) -> dict[str, str]:
    """Environment every process of one deployment shares: database, store, secrets, executor."""
    values = {"EXPORTCENTER_DATABASE_URL": database_url, "EXPORTCENTER_STORAGE_DIR": str(storage),
              "EXPORTCENTER_EXECUTOR": "procrastinate", "EXPORTCENTER_AUTH__HS256_SECRET": secrets.token_hex(32),
              "EXPORTCENTER_URL_SIGNING_KEY": secrets.token_hex(32), "EXPORTCENTER_JOB_POLL_SECONDS": "0.1"}
    values.update({f"EXPORTCENTER_{k.upper()}": v for k, v in extra.items()})
    return values
