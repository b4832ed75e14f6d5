"""The one typed settings object. Values come from ``EXPORTCENTER_*`` environment variables.

Nested groups use ``__`` in variable names, e.g. ``EXPORTCENTER_S3__BUCKET``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(os.environ.get("EXPORTCENTER_HOME", str(Path.home() / ".exportcenter")))


class SarifSettings(BaseModel):
    max_runs: int = 20
    max_results_per_run: int = 25_000
    max_gzip_bytes: int = 10 * 1024 * 1024
    fallback_uri: str = "container-image"


class S3Settings(BaseModel):
    endpoint_url: str | None = None
    bucket: str = "exportcenter"
    region: str = "us-east-1"
    path_style: bool = True
    access_key_id: str | None = None
    secret_access_key: str | None = None
    multipart_threshold_bytes: int = 16 * 1024 * 1024
    max_attempts: int = 5


class AuthSettings(BaseModel):
    hs256_secret: str | None = None
    jwks_file: Path | None = None
    jwks_url: str | None = None
    issuer: str = "exportcenter"
    audience: str = "exportcenter"
    tenant_claim: str = "tenant"
    leeway_seconds: int = 30


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "exportcenter@localhost"
    attach_max_bytes: int = 10 * 1024 * 1024


class UpstreamSettings(BaseModel):
    scanner_url: str | None = None
    policy_url: str | None = None
    vexlens_url: str | None = None
    sbom_url: str | None = None
    token: str | None = None
    timeout_seconds: float = 10.0
    max_attempts: int = 3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXPORTCENTER_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    storage_backend: Literal["filesystem", "s3"] = "filesystem"
    storage_dir: Path | None = None
    retention_days: int = 30
    executor: Literal["embedded", "procrastinate"] = "embedded"
    data_source: Literal["local", "upstream"] = "local"  # upstream: gather from the StellaOps services
    worker_concurrency: int = 2
    max_job_attempts: int = 3
    job_lease_seconds: int = 60  # a processing job whose heartbeat is older is taken back
    job_poll_seconds: float = 0.5
    job_stage_delay_seconds: float = 0.0  # demos/tests only: pause after each stage
    retention_interval_seconds: int = 300
    scheduler_enabled: bool = True  # `serve` runs the schedule loop (and delivery retries) in-process
    scheduler_interval_seconds: float = 30.0
    tenant_max_concurrent_exports: int = 10
    max_upload_bytes: int = 64 * 1024 * 1024
    max_verify_upload_bytes: int = 2 * 1024 * 1024 * 1024  # POST /api/v1/evidence/verify
    max_json_body_bytes: int = 1024 * 1024  # JSON request bodies (POST /api/v1/exports, schedules, branding)
    download_url_ttl_seconds: int = 3600
    public_base_url: str = "http://127.0.0.1:8080"
    url_signing_key: str | None = None
    chromium_path: str | None = None
    pdf_timeout_seconds: float = 120.0
    pdf_chunk_rows: int = 500
    signing_key_file: Path | None = None
    signing_key_env: str = "EXPORTCENTER_SIGNING_KEY"
    trusted_keys_dir: Path | None = None
    webhook_allow_hosts: list[str] = Field(default_factory=list)
    log_json: bool = True
    otlp_endpoint: str | None = None
    sarif: SarifSettings = Field(default_factory=SarifSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'exportcenter.db'}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or (self.home / "blobs")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI call this after changing the environment."""
    get_settings.cache_clear()
