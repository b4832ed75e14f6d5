"""A real `exportcenter serve` (Uvicorn) on a free loopback port, in its own EXPORTCENTER_HOME."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exportcenter.api.auth import mint_token
from exportcenter.config import Settings

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SMALL_SCAN = DATA / "scans" / "trivy_json_alpine-310.json"
OTHER_SCAN = DATA / "scans" / "trivy_json_debian-stretch.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One server process; ``restart`` keeps the home (database, secrets, blobs)."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.extra_env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"
        self.extra_args: list[str] = []  # more `serve` options, e.g. --no-workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXPORTCENTER_")}
        env.update({"EXPORTCENTER_HOME": str(self.home), "EXPORTCENTER_PUBLIC_BASE_URL": self.url,
                    "EXPORTCENTER_JOB_POLL_SECONDS": "0.1", "EXPORTCENTER_LOG_JSON": "false",
                    "SOURCE_DATE_EPOCH": "", **self.extra_env})
        return env

    def settings(self) -> Settings:
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.env())
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exportcenter.cli.serve_cmds", "serve", "--port", str(self.port),
                 "--log-level", "warning", *self.extra_args], env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def kill(self) -> None:
        """Die like a crashed process: no shutdown, no cleanup."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self, tenant: str, scopes: tuple[str, ...] = ("export:read", "export:write"),
              subject: str = "alice", ttl: int = 600) -> str:
        return mint_token(self.settings(), tenant=tenant, scopes=list(scopes), subject=subject, ttl_seconds=ttl)

    def headers(self, tenant: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, **kwargs)}", "X-Tenant-Id": tenant}

    def client(self, tenant: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(tenant, **kwargs), timeout=30)


def start_server(home: Path, **env: str) -> Iterator[Server]:
    server = Server(home, {f"EXPORTCENTER_{k.upper()}": v for k, v in env.items()})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fast server shared by a test module (tenants keep tests apart)."""
    yield from start_server(tmp_path_factory.mktemp("api"), max_upload_bytes="200000")


def upload(client: httpx.Client, path: Path) -> str:
    with open(path, "rb") as handle:
        response = client.post("/api/v1/scans", files={"file": (path.name, handle, "application/json")})
    assert response.status_code == 201, response.text
    return str(response.json()["ids"]["scan_id"])


def wait_status(client: httpx.Client, export_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/exports/{export_id}").json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.1)
    raise AssertionError(f"export {export_id} stayed {body.get('status')}: {body}")


def export_body(scan_id: str, fmt: str = "json", export_type: str = "scan_report") -> dict[str, Any]:
    return {"type": export_type, "format": fmt, "scope": {"scan_ids": [scan_id]}}
