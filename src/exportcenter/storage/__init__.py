"""Artifact storage (the spec's RustFS): the filesystem by default, any S3-compatible store for scale-out."""

from __future__ import annotations

from exportcenter.config import Settings
from exportcenter.storage.base import ArtifactStore, export_prefix


def open_store(settings: Settings) -> ArtifactStore:
    if settings.storage_backend == "s3":
        from exportcenter.storage.s3 import S3ArtifactStore

        return S3ArtifactStore(settings)
    from exportcenter.storage.filesystem import FilesystemArtifactStore

    return FilesystemArtifactStore(settings.resolved_storage_dir)


__all__ = ["ArtifactStore", "export_prefix", "open_store"]
