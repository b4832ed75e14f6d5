"""Render stage: every artifact of one export, written to the staging folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from exportcenter.config import Settings
from exportcenter.errors import ExportCenterError, RenderError
from exportcenter.model import ExportFormat, ExportSnapshot, ExportType
from exportcenter.pipeline.registry import artifact_name, renderer_for
from exportcenter.renderers.base import RenderContext


def render_one(settings: Settings, snapshot: ExportSnapshot, export_type: ExportType,
               export_format: ExportFormat, path: Path, context: RenderContext) -> None:
    renderer = renderer_for(export_type, export_format)
    try:
        with open(path, "wb") as out:
            renderer(snapshot, out, context)
    except ExportCenterError:
        raise
    except Exception as exc:
        raise RenderError(f"rendering {export_type.value}/{export_format.value} failed: "
                          f"{type(exc).__name__}: {exc}") from exc


def render_artifacts(settings: Settings, snapshot: ExportSnapshot,
                     staging: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The main artifact, plus ``sbom.cdx.json`` when include_sbom. Evidence bundles are built by the
    seal stage from these parts instead."""
    export_type = ExportType(snapshot.export_type)
    export_format = ExportFormat(snapshot.export_format)
    context = RenderContext(settings=settings)
    files: list[tuple[str, Path]] = []
    if export_type is not ExportType.EVIDENCE_BUNDLE:
        name = artifact_name(export_type, export_format)
        render_one(settings, snapshot, export_type, export_format, staging / name, context)
        files.append((name, staging / name))
    wants_sbom = snapshot.options.include_sbom and export_type is not ExportType.SBOM
    if wants_sbom and export_type is not ExportType.EVIDENCE_BUNDLE:
        sbom_snapshot = replace(snapshot, export_type=ExportType.SBOM.value,
                                export_format=ExportFormat.CYCLONEDX.value)
        name = artifact_name(ExportType.SBOM, ExportFormat.CYCLONEDX)
        render_one(settings, sbom_snapshot, ExportType.SBOM, ExportFormat.CYCLONEDX, staging / name, context)
        files.append((name, staging / name))
    return files, context.warnings
