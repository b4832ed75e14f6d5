"""`serve` (the API with its in-process workers) and `token` (mint a local HS256 token)."""

from __future__ import annotations

import typer

from exportcenter.cli.common import err_console, handle_errors, tenant_or_exit
from exportcenter.config import get_settings
from exportcenter.errors import ConfigurationError


@handle_errors
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    log_level: str = typer.Option("info", "--log-level", help="Uvicorn log level."),
    no_workers: bool = typer.Option(False, "--no-workers", help="Serve the API only; run no export workers."),
) -> None:
    """Run the REST API (OpenAPI at /docs) with the embedded export workers and the retention task."""
    import uvicorn

    from exportcenter.api.app import create_app
    from exportcenter.runtime import Runtime

    settings = get_settings()
    # Zero setup on the embedded SQLite default; any other database must be migrated explicitly.
    runtime = Runtime.open(settings, migrate=settings.resolved_database_url.startswith("sqlite"))
    if not (1 <= port <= 65535):
        raise ConfigurationError(f"invalid port {port}")
    app = create_app(runtime, run_workers=not no_workers)
    err_console.print(f"ExportCenter API on http://{host}:{port} (docs at /docs, data in {settings.home})")
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, ws="websockets-sansio")
    finally:
        runtime.close()


@handle_errors
def token_command(
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant the token is for."),
    scope: list[str] = typer.Option(["export:read", "export:write"], "--scope", "-s",
                                    help="export:read, export:write or export:admin; repeatable."),
    subject: str = typer.Option("local-user", "--subject", help="The token's sub (recorded as the actor)."),
    ttl: int = typer.Option(3600, "--ttl", help="Lifetime in seconds."),
) -> None:
    """Mint a local HS256 token signed with $EXPORTCENTER_HOME/jwt-secret."""
    from exportcenter.api.auth import mint_token

    tenant = tenant_or_exit(tenant)
    if ttl <= 0:
        raise ConfigurationError("--ttl must be positive")
    scopes = [part for value in scope for part in value.replace(",", " ").split()]
    typer.echo(mint_token(get_settings(), tenant=tenant, scopes=scopes, subject=subject, ttl_seconds=ttl))


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
app.command("serve")(serve_command)
app.command("token")(token_command)

if __name__ == "__main__":
    app()
