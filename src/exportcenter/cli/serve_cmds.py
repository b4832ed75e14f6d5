"""`serve` (the API with its in-process workers) and `token` (mint a local HS256 token)."""

from __future__ import annotations

import typer

from exportcenter.cli.common import err_console, handle_errors, tenant_or_exit
from exportcenter.config import get_settings
from exportcenter.errors import ConfigurationError

WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - only compared with --host


def listen_base_url(host: str, port: int) -> str:
    """The URL of ``serve --host --port`` itself (a wildcard address becomes the loopback address)."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


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

    if not (1 <= port <= 65535):
        raise ConfigurationError(f"invalid port {port}")
    settings = get_settings()
    if "public_base_url" not in settings.model_fields_set:
        # Signed download links must point at this server; behind a proxy set EXPORTCENTER_PUBLIC_BASE_URL.
        settings = settings.model_copy(update={"public_base_url": listen_base_url(host, port)})
        if host in WILDCARD_HOSTS:
            err_console.print(f"Listening on all addresses: download links use {settings.public_base_url}; "
                              "set EXPORTCENTER_PUBLIC_BASE_URL to the address clients reach.")
    # Zero setup on the embedded SQLite default; any other database must be migrated explicitly.
    runtime = Runtime.open(settings, migrate=settings.resolved_database_url.startswith("sqlite"))
    app = create_app(runtime, run_workers=not no_workers)
    err_console.print(f"ExportCenter API on {listen_base_url(host, port)} (docs at /docs, data in {settings.home}; "
                      f"download links use {settings.public_base_url})")
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
