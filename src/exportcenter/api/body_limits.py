"""JSON request bodies: 415 for another media type, 413 above ``max_json_body_bytes``, both before parsing."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exportcenter.api import problems

JSON_ROUTES = (("POST", "/api/v1/exports"), ("PUT", "/api/v1/tenant/branding"))
SCHEDULE_PREFIX = "/api/v1/schedules"


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonBodyLimit:
    """Buffers at most ``max_bytes`` of a JSON body (refusing early on Content-Length), then hands it on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _applies(self, scope: Scope) -> tuple[bool, bool]:
        """(limit the body, require application/json)."""
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        if (method, path) in JSON_ROUTES:
            return True, path == "/api/v1/exports"
        return method in ("POST", "PUT") and path.startswith(SCHEDULE_PREFIX), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limited, json_only = self._applies(scope)
        if not limited:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if json_only and media and not _is_json(media):
            await problems.problem_response(
                415, "unsupported_media_type", f"unsupported content type {media!r}: send application/json",
                instance=scope["path"], accepted=["application/json"])(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problems.problem_response(
            413, "payload_too_large", f"request body exceeds the limit of {self.max_bytes} bytes "
            "(settings.max_json_body_bytes)", instance=scope["path"], limit=self.max_bytes,
            headers={"Connection": "close"})(scope, receive, send)
