"""Export events across processes through PostgreSQL LISTEN/NOTIFY.

Every process that publishes (API replicas, workers) forwards its local events with ``pg_notify``;
every API replica listens on a dedicated connection and hands events from *other* processes to its
local subscribers (WebSocket/SSE). Events are best-effort notifications: the export row stays the truth,
so an event lost while a connection is re-established only delays what a client sees.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from exportcenter.pipeline.events import BUS, Event, EventBus
from exportcenter.util.ids import new_id
from exportcenter.util.jsonio import dumps, loads

log = logging.getLogger("exportcenter.events")
CHANNEL = "exportcenter_events"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
_ESSENTIAL = ("event", "export_id", "tenant", "type", "format", "status", "progress", "time", "stage", "error")


def encode(origin: str, event: Event) -> str | None:
    """The NOTIFY payload; oversized events keep their essential keys, hopeless ones are dropped."""
    payload = dumps({"origin": origin, "event": event}, indent=False).decode()
    if len(payload.encode()) <= MAX_PAYLOAD:
        return payload
    slim = {k: v for k, v in event.items() if k in _ESSENTIAL}
    if isinstance(slim.get("error"), str):
        slim["error"] = slim["error"][:1000]
    slim["truncated"] = True
    payload = dumps({"origin": origin, "event": slim}, indent=False).decode()
    return payload if len(payload.encode()) <= MAX_PAYLOAD else None


def decode(payload: str) -> tuple[str, Event] | None:
    try:
        body = loads(payload)
    except Exception:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        return None
    return str(body.get("origin", "")), body["event"]


class PgEventBridge:
    """Forward local events with NOTIFY; optionally LISTEN and deliver other processes' events locally."""

    def __init__(self, conninfo: str, *, bus: EventBus = BUS, listen: bool = True,
                 reconnect_seconds: float = 1.0) -> None:
        self.conninfo = conninfo
        self.bus = bus
        self.origin = new_id("proc")
        self.reconnect_seconds = reconnect_seconds
        self._send_lock = threading.Lock()
        self._sender: Any = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        bus.add_bridge(self.forward)
        if listen:
            self._thread = threading.Thread(target=self._listen_loop, name="pg-events", daemon=True)
            self._thread.start()

    # -- sending ----------------------------------------------------------------------------------
    def forward(self, event: Event) -> None:
        if self._stop.is_set():
            return
        payload = encode(self.origin, event)
        if payload is None:
            log.warning("event %s for %s too large to NOTIFY; dropped", event.get("event"), event.get("export_id"))
            return
        import psycopg

        with self._send_lock:
            for attempt in (1, 2):
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                    self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    return
                except psycopg.Error as exc:
                    self._close_sender()
                    if attempt == 2:
                        log.warning("could not NOTIFY export event: %s", exc)

    def _close_sender(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(Exception):
                self._sender.close()
        self._sender = None

    # -- listening --------------------------------------------------------------------------------
    def wait_listening(self, timeout: float = 10.0) -> bool:
        return self._listening.wait(timeout)

    def _listen_loop(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._deliver(notice.payload)
            except psycopg.Error as exc:
                self._listening.clear()
                if not self._stop.is_set():
                    log.warning("event listener lost its connection (%s); reconnecting", exc)
                    self._stop.wait(self.reconnect_seconds)

    def _deliver(self, payload: str) -> None:
        decoded = decode(payload)
        if decoded is None:
            log.warning("ignored a malformed event notification")
            return
        origin, event = decoded
        if origin != self.origin:  # our own events were delivered locally when published
            self.bus.deliver_local(event)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(ValueError):
            self.bus._bridges.remove(self.forward)
        if self._thread is not None:
            self._thread.join(3)
        with self._send_lock:
            self._close_sender()


def bridge_for(runtime: Any, *, listen: bool = True) -> PgEventBridge | None:
    """The bridge for a runtime on PostgreSQL; None on SQLite (one process, nothing to bridge)."""
    url = runtime.settings.resolved_database_url
    if not url.startswith(("postgresql", "postgres://")):
        return None
    from exportcenter.jobs.procrastinate_executor import conninfo

    return PgEventBridge(conninfo(url), listen=listen)
