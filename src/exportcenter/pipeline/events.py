"""In-process publish/subscribe of export events (queued, processing, completed, failed, ...).

The API's WebSocket and SSE endpoints subscribe per tenant; the pipeline publishes. A scale-out
deployment bridges this bus across processes (PostgreSQL LISTEN/NOTIFY).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[str, queue.Queue[Event]]] = {}
        self._next = 0
        self._bridges: list[Callable[[Event], None]] = []

    def subscribe(self, tenant: str, maxsize: int = 1000) -> tuple[int, queue.Queue[Event]]:
        with self._lock:
            self._next += 1
            inbox: queue.Queue[Event] = queue.Queue(maxsize=maxsize)
            self._subscribers[self._next] = (tenant, inbox)
            return self._next, inbox

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._subscribers.pop(token, None)

    def add_bridge(self, forward: Callable[[Event], None]) -> None:
        """Also hand every locally published event to ``forward`` (e.g. NOTIFY to other processes)."""
        self._bridges.append(forward)

    def publish(self, event: Event, *, local_only: bool = False) -> None:
        self.deliver_local(event)
        if not local_only:
            for forward in self._bridges:
                forward(event)

    def deliver_local(self, event: Event) -> None:
        with self._lock:
            targets = [inbox for tenant, inbox in self._subscribers.values() if tenant == event.get("tenant")]
        for inbox in targets:
            with contextlib.suppress(queue.Full):  # a stalled client loses events, the pipeline never stalls
                inbox.put_nowait(event)


BUS = EventBus()
