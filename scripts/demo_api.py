"""The demo's API half: start `exportcenter serve`, upload real scans, submit exports, wait for their
"completed" events on the WebSocket, download every artifact through its signed URL and check its sha256
against the manifest. Exits non-zero on any mismatch."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "fixtures" / "data"
EXPORTCENTER = str(REPO / ".venv" / "bin" / "exportcenter")
TENANT = "acme-corp"
EXPORTS = [
    {"type": "scan_report", "format": "sarif"},
    {"type": "vulnerability_report", "format": "xlsx", "options": {"include_remediation": True}},
    {"type": "scan_report", "format": "pdf", "options": {"template": "compliance-executive", "include_sbom": True}},
    {"type": "evidence_bundle", "format": "zip"},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


async def run(base: str, token: str, out: Path) -> int:
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": TENANT}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        scan_ids = []
        for name in ("trivy_json_juice-shop-v12.10.2.json", "grype_json_issue-9618-strimzi.json"):
            with open(DATA / "scans" / name, "rb") as handle:
                response = await client.post("/api/v1/scans", files={"file": (name, handle, "application/json")})
            response.raise_for_status()
            scan_ids.append(response.json()["ids"]["scan_id"])
            print(f"  uploaded {name} -> {scan_ids[-1]}")
        ws_url = base.replace("http://", "ws://") + f"/api/v1/events?token={token}&tenant={TENANT}"
        async with websockets.connect(ws_url) as events:
            pending: dict[str, dict[str, object]] = {}
            for spec in EXPORTS:
                body = {**spec, "scope": {"scan_ids": scan_ids[:1] if spec["type"] != "vulnerability_report"
                                          else scan_ids}}
                response = await client.post("/api/v1/exports", json=body)
                if response.status_code != 202:
                    print(f"  submit {spec} refused: {response.status_code} {response.text}")
                    return 1
                job = response.json()
                pending[job["export_id"]] = spec
                print(f"  {job['export_id']} {spec['type']}/{spec['format']}: {job['status']}, "
                      f"estimated {job['estimated_completion']} (Location: {response.headers['location']})")
            failures = 0
            while pending:
                event = json.loads(await asyncio.wait_for(events.recv(), timeout=300))
                export_id = event.get("export_id")
                if export_id not in pending or event.get("event") not in ("completed", "failed"):
                    continue
                spec = pending.pop(export_id)
                if event["event"] == "failed":
                    print(f"  {export_id} failed: {event.get('error')}")
                    failures += 1
                    continue
                failures += await download_all(client, export_id, out / f"api-{spec['type']}-{spec['format']}")
        return failures


async def download_all(client: httpx.AsyncClient, export_id: str, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    status = (await client.get(f"/api/v1/exports/{export_id}")).json()
    failures = 0
    for artifact in status["artifacts"]:
        link = (await client.get(f"/api/v1/exports/{export_id}/download",
                                 params={"artifact": artifact["name"]})).json()
        data = (await client.get(link["download_url"], headers={"Authorization": ""})).content
        (folder / artifact["name"]).write_bytes(data)
        ok = hashlib.sha256(data).hexdigest() == artifact["sha256"] and len(data) == artifact["size"]
        failures += 0 if ok else 1
        print(f"  {export_id} {artifact['name']}: {len(data)} bytes via signed URL, "
              f"sha256 {'matches' if ok else 'DOES NOT MATCH'} the manifest")
    return failures


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-out").resolve()
    env = {**os.environ, "EXPORTCENTER_HOME": str(out / "api-home")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = subprocess.run([EXPORTCENTER, "token", "--tenant", TENANT], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    env["EXPORTCENTER_PUBLIC_BASE_URL"] = base
    server = subprocess.Popen([EXPORTCENTER, "serve", "--port", str(port), "--log-level", "warning"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(out / "api-server.log", "wb"))
    try:
        wait_ready(base, server)
        print(f"  server on {base} (log: {out / 'api-server.log'})")
        return asyncio.run(run(base, token, out))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
