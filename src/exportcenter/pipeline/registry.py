"""Which renderer writes which (type, format), and what the artifact is called."""

from __future__ import annotations

import importlib

from exportcenter.model import ExportFormat, ExportType
from exportcenter.renderers.base import RenderFunction

# Modules that expose RENDERERS: dict[tuple[ExportType, ExportFormat], RenderFunction].
RENDERER_MODULES = (
    "exportcenter.renderers.json_reports",
    "exportcenter.renderers.csv_writer",
    "exportcenter.renderers.xlsx",
    "exportcenter.renderers.sarif",
    "exportcenter.renderers.cyclonedx",
    "exportcenter.renderers.spdx",
    "exportcenter.renderers.pdf",
)

_STEMS = {ExportType.SBOM: "sbom", ExportType.EVIDENCE_BUNDLE: "evidence", ExportType.AUDIT_LOG: "audit-log"}


def artifact_name(export_type: ExportType, export_format: ExportFormat) -> str:
    return _STEMS.get(export_type, "report") + export_format.extension


def renderer_for(export_type: ExportType, export_format: ExportFormat) -> RenderFunction:
    for module_name in RENDERER_MODULES:
        module = importlib.import_module(module_name)
        table: dict[tuple[ExportType, ExportFormat], RenderFunction] = getattr(module, "RENDERERS", {})
        if (export_type, export_format) in table:
            return table[(export_type, export_format)]
    raise LookupError(f"no renderer registered for {export_type.value}/{export_format.value}")
