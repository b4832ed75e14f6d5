"""The FastAPI application: routes, problem+json errors, and the executor + retention in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from exportcenter.api import (
    problems,
    routes_events,
    routes_evidence,
    routes_exports,
    routes_scans,
    routes_schedules,
    routes_templates,
)
from exportcenter.api.audit_buffer import AuditBuffer
from exportcenter.api.auth import Authenticator
from exportcenter.api.body_limits import JsonBodyLimit
from exportcenter.api.context import ApiContext
from exportcenter.api.routes_scans import UploadLimit
from exportcenter.api.schemas import Health
from exportcenter.api.signing import UrlSigner, load_or_create_signing_key
from exportcenter.config import get_settings
from exportcenter.db.engine import require_migrated
from exportcenter.errors import ExportCenterError
from exportcenter.jobs.executor import EmbeddedExecutor
from exportcenter.jobs.retention import RetentionTask
from exportcenter.runtime import Runtime

log = logging.getLogger("exportcenter.api")


def create_app(runtime: Runtime | None = None, *, run_workers: bool = True) -> FastAPI:
    """Build the API. Without ``runtime`` the lifespan opens one with ``migrate=False``: the API never
    changes the schema and refuses to start when it is not migrated (`exportcenter db upgrade`)."""
    holder: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.open(get_settings(), migrate=False)
        holder["runtime"] = rt
        from exportcenter.pipeline.events_pg import bridge_for

        event_bridge = bridge_for(rt)  # PostgreSQL: events from every process reach this replica's clients
        executor = EmbeddedExecutor(rt) if run_workers and rt.settings.executor == "embedded" else None
        retention = RetentionTask(rt) if run_workers else None
        schedule_loop = routes_schedules.ScheduleLoop(  # schedules (unless disabled) + delivery retries
            rt, wake=executor.wake if executor else None,
            schedules=rt.settings.scheduler_enabled) if run_workers else None
        app.state.ctx = ApiContext(
            runtime=rt, authenticator=Authenticator(rt.settings),
            signer=UrlSigner(load_or_create_signing_key(rt.settings), rt.settings.public_base_url),
            wake_executor=executor.wake if executor else (lambda: None), audit_buffer=AuditBuffer(rt.sessions))
        app.state.executor = executor
        if executor:
            executor.start()
        if retention:
            retention.start()
        if schedule_loop:
            schedule_loop.start()
        try:
            yield
        finally:
            if event_bridge is not None:
                event_bridge.close()
            app.state.ctx.audit_buffer.close()
            if schedule_loop:
                schedule_loop.stop()
            if executor:
                executor.stop()
            if retention:
                retention.stop()
            if runtime is None:
                rt.close()

    settings = runtime.settings if runtime else get_settings()
    app = FastAPI(title="ExportCenter", version="1.0.0", lifespan=lifespan,
                  description="Exports of container-security data: reports, SBOMs, SARIF and sealed evidence.")
    problems.install(app)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(JsonBodyLimit, max_bytes=settings.max_json_body_bytes)
    app.include_router(routes_exports.router)
    app.include_router(routes_scans.router)
    app.include_router(routes_schedules.router)
    app.include_router(routes_evidence.router)
    app.include_router(routes_templates.router)
    app.include_router(routes_events.router)
    from exportcenter.api import routes_console
    from exportcenter.observability.http import install_observability

    install_observability(app, settings)  # request spans, /metrics, JSON logs
    app.include_router(routes_console.router)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"],
             responses={503: {"content": {"application/problem+json": {}}}})
    def readyz(request: Request) -> Health | JSONResponse:
        """The database answers and its schema is at the latest revision."""
        rt: Runtime = request.app.state.ctx.runtime
        try:
            with rt.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            require_migrated(rt.engine)
        except ExportCenterError as exc:
            return problems.problem_response(503, "not_ready", exc.message)
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return problems.problem_response(503, "not_ready", "database unreachable")
        return Health(status="ready")

    return app
