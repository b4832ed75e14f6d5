"""Live export events of the caller's tenant: WebSocket /api/v1/events and SSE /api/v1/events/stream.

Browsers cannot set headers on a WebSocket, so the token may also come as ``?token=`` and the tenant as
``?tenant=``. Each connection first receives ``{"event": "subscribed", ...}``; after that every export
event of its tenant (optionally of one ``export_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from exportcenter.api.auth import Principal, bearer_from_header
from exportcenter.api.context import ApiContext, authenticate, client_address, record
from exportcenter.errors import AuthError, ExportCenterError, ForbiddenError
from exportcenter.pipeline.events import BUS
from exportcenter.util.jsonio import dumps

router = APIRouter(prefix="/api/v1", tags=["events"])
POLL_SECONDS = 0.05
KEEPALIVE_SECONDS = 15.0


def _drain(inbox: queue.Queue[dict[str, Any]], export_id: str | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        try:
            event = inbox.get_nowait()
        except queue.Empty:
            return events
        if export_id is None or event.get("export_id") == export_id:
            events.append(event)


def _websocket_principal(websocket: WebSocket, token: str | None, tenant: str | None) -> Principal:
    ctx: ApiContext = websocket.app.state.ctx
    bearer = bearer_from_header(websocket.headers.get("authorization")) or token
    claimed = websocket.headers.get("x-tenant-id") or tenant
    principal = ctx.authenticator.principal(bearer, claimed)
    principal.require("export:read")
    return principal


@router.websocket("/events")
async def events_socket(websocket: WebSocket, token: Annotated[str | None, Query()] = None,
                        tenant: Annotated[str | None, Query()] = None,
                        export_id: Annotated[str | None, Query()] = None) -> None:
    ctx: ApiContext = websocket.app.state.ctx
    address = websocket.client.host if websocket.client else None
    try:
        principal = await run_in_threadpool(_websocket_principal, websocket, token, tenant)
    except (AuthError, ForbiddenError) as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    except ExportCenterError:
        await websocket.close(code=1011)
        return
    subscription, inbox = BUS.subscribe(principal.tenant)
    try:
        await websocket.accept()
        await run_in_threadpool(record, ctx, tenant=principal.tenant, actor=principal.subject,
                                action="events.subscribe", resource="websocket", outcome="success",
                                source_address=address)
        await websocket.send_text(dumps({"event": "subscribed", "tenant": principal.tenant,
                                         "export_id": export_id}, indent=False).decode())
        closed = asyncio.ensure_future(_wait_closed(websocket))
        try:
            while not closed.done():
                for event in _drain(inbox, export_id):
                    await websocket.send_text(dumps(event, indent=False).decode())
                await asyncio.sleep(POLL_SECONDS)
        finally:
            closed.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        BUS.unsubscribe(subscription)


async def _wait_closed(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def events_stream(request: Request, token: Annotated[str | None, Query()] = None,
                  tenant: Annotated[str | None, Query()] = None,
                  export_id: Annotated[str | None, Query()] = None) -> StreamingResponse:
    """The same events as Server-Sent Events (``event:`` is the event kind, ``data:`` the JSON)."""
    principal = authenticate(request, "export:read", token=token, tenant=tenant)
    ctx: ApiContext = request.app.state.ctx
    record(ctx, tenant=principal.tenant, actor=principal.subject, action="events.subscribe", resource="sse",
           outcome="success", source_address=client_address(request))
    subscription, inbox = BUS.subscribe(principal.tenant)

    async def stream() -> AsyncIterator[bytes]:
        idle = 0.0
        try:
            yield b": subscribed\n\n"
            while not await request.is_disconnected():
                events = _drain(inbox, export_id)
                for event in events:
                    yield b"event: " + str(event.get("event", "message")).encode() + b"\ndata: " \
                        + dumps(event, indent=False) + b"\n\n"
                idle = 0.0 if events else idle + POLL_SECONDS
                if idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield b": keep-alive\n\n"
                await asyncio.sleep(POLL_SECONDS)
        finally:
            BUS.unsubscribe(subscription)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
