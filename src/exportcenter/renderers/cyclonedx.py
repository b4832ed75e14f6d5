"""CycloneDX 1.6 (default) or 1.5 JSON, built as plain dicts and written by orjson.

cyclonedx-python-lib builds the same BOM hundreds of times slower (see docs/bench-sbom.md), so the
document is assembled directly from the snapshot:

- ``metadata.component`` is the scanned image (or, for several scans, an aggregate whose components are
  the images); ``metadata.timestamp`` is ``snapshot.generated_at``; ``custom_fields`` are
  ``metadata.properties``;
- ``components`` come from :mod:`exportcenter.renderers.sbom_inventory` (unique bom-refs, finding
  packages added by purl), ``dependencies`` only between defined refs;
- ``vulnerabilities`` from :mod:`exportcenter.renderers.cyclonedx_vulns`;
- ``serialNumber`` is a UUIDv5 of the document's own content, so equal input gives equal bytes.

Works from any snapshot, so it also serves ``include_sbom`` (``sbom.cdx.json`` beside other exports).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from exportcenter import __version__
from exportcenter.errors import InvalidInputError
from exportcenter.model import Component, ExportSnapshot
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.cyclonedx_stream import StreamedObject
from exportcenter.renderers.cyclonedx_vulns import group_by_id, vulnerability_chunks
from exportcenter.renderers.licenses import cyclonedx_licenses
from exportcenter.renderers.sbom_inventory import Inventory, build_inventory, paused_gc
from exportcenter.util import jsonio
from exportcenter.util.timeutil import iso_z

SUPPORTED_VERSIONS = ("1.5", "1.6")
DEFAULT_VERSION = "1.6"
SERIAL_NAMESPACE = uuid.UUID("6f6b8c1e-3c0e-5d7a-9f57-2d1b1f3c6a10")
SERIAL_WIDTH = len("urn:uuid:") + 36
# Items built and serialised at a time: bounded memory, and few enough orjson calls to cost nothing.
COMPONENT_CHUNK = 1000
DEPENDENCY_CHUNK = 200
VULNERABILITY_CHUNK = 200

_COMPONENT_TYPES = {
    "1.5": frozenset({"application", "framework", "library", "container", "platform", "operating-system",
                      "device", "device-driver", "firmware", "file", "machine-learning-model", "data"}),
}
_COMPONENT_TYPES["1.6"] = _COMPONENT_TYPES["1.5"] | {"cryptographic-asset"}

_HASH_ALGORITHMS = {
    "md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512",
    "sha3256": "SHA3-256", "sha3384": "SHA3-384", "sha3512": "SHA3-512", "blake2b256": "BLAKE2b-256",
    "blake2b384": "BLAKE2b-384", "blake2b512": "BLAKE2b-512", "blake3": "BLAKE3",
}
_HEX_LENGTHS = frozenset({32, 40, 64, 96, 128})
_HEX = frozenset("0123456789abcdefABCDEF")


def resolve_version(snapshot: ExportSnapshot) -> str:
    """The requested spec version ("1.6" default, "1.5"); anything else is refused with the choices."""
    requested = (snapshot.options.cyclonedx_version or DEFAULT_VERSION).strip().lower().removeprefix("v")
    if requested not in SUPPORTED_VERSIONS:
        raise InvalidInputError(
            f"CycloneDX version {snapshot.options.cyclonedx_version!r} is not supported; "
            f"choose one of {', '.join(SUPPORTED_VERSIONS)}",
            option="cyclonedx_version",
        )
    return requested


def render_cyclonedx(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    """Renderer entry point: write the BOM as indented JSON, streamed piece by piece.

    The bytes are those of ``jsonio.dumps(build_cyclonedx(...))``, but neither the whole dict tree nor
    the whole text ever exists: components, dependencies and vulnerabilities are built and written a
    chunk at a time, and the serial number (a digest of everything else) is filled in at the end."""
    with paused_gc():
        parts = _prepare(snapshot, ctx)
        writer = StreamedObject(out)
        writer.member("$schema", parts.schema)
        writer.member("bomFormat", "CycloneDX")
        writer.list_member("components", parts.component_chunks())
        if parts.dependencies:
            writer.list_member("dependencies", parts.dependency_chunks())
        writer.member("metadata", parts.metadata)
        writer.defer_string("serialNumber", SERIAL_WIDTH)
        writer.member("specVersion", parts.spec)
        writer.member("version", 1)
        if parts.vulnerability_groups:
            writer.list_member("vulnerabilities", parts.vulnerability_chunks())
        writer.close(serial_from_digest(writer.digest))


def build_cyclonedx(snapshot: ExportSnapshot, ctx: RenderContext, version: str | None = None) -> dict[str, Any]:
    """The BOM as one dict (``version`` overrides ``snapshot.options.cyclonedx_version``): the same
    document ``render_cyclonedx`` streams, for callers that want to inspect it."""
    parts = _prepare(snapshot, ctx, version)
    bom: dict[str, Any] = {
        "$schema": parts.schema,
        "bomFormat": "CycloneDX",
        "specVersion": parts.spec,
        "version": 1,
        "metadata": parts.metadata,
        "components": [item for chunk in parts.component_chunks() for item in chunk],
    }
    if parts.dependencies:
        bom["dependencies"] = [item for chunk in parts.dependency_chunks() for item in chunk]
    if parts.vulnerability_groups:
        bom["vulnerabilities"] = [item for chunk in parts.vulnerability_chunks() for item in chunk]
    bom["serialNumber"] = serial_number(bom)
    return bom


class _BomParts:
    """What the document is made of: the small members built, the large ones as chunk generators."""

    def __init__(self, snapshot: ExportSnapshot, ctx: RenderContext, spec: str) -> None:
        self.spec = spec
        self.schema = f"http://cyclonedx.org/schema/bom-{spec}.schema.json"
        self.inventory = build_inventory(snapshot)
        self.builder = _ComponentBuilder(spec, ctx)
        self.metadata, self.extra_components = _metadata(snapshot, self.inventory, self.builder)
        self.dependencies = self.inventory.dependencies
        scanners = {scan.id: scan.scanner_name for scan in snapshot.scans}
        self.scanner_of: Callable[[str], str] = lambda scan_id: scanners.get(scan_id) or "exportcenter"
        self.vulnerability_groups = group_by_id(snapshot.findings)

    def component_chunks(self) -> Iterator[list[dict[str, Any]]]:
        yield self.extra_components
        components = self.inventory.components
        for start in range(0, len(components), COMPONENT_CHUNK):
            yield [self.builder.build(c) for c in components[start:start + COMPONENT_CHUNK]]

    def dependency_chunks(self) -> Iterator[list[dict[str, Any]]]:
        items = list(self.dependencies.items())
        for start in range(0, len(items), DEPENDENCY_CHUNK):
            yield [{"ref": ref, "dependsOn": targets} for ref, targets in items[start:start + DEPENDENCY_CHUNK]]

    def vulnerability_chunks(self) -> Iterator[list[dict[str, Any]]]:
        return vulnerability_chunks(self.vulnerability_groups, self.inventory.refs_for, self.scanner_of,
                                    VULNERABILITY_CHUNK)


def _prepare(snapshot: ExportSnapshot, ctx: RenderContext, version: str | None = None) -> _BomParts:
    spec = version or resolve_version(snapshot)
    if spec not in SUPPORTED_VERSIONS:
        raise InvalidInputError(f"CycloneDX version {spec!r} is not supported", option="cyclonedx_version")
    return _BomParts(snapshot, ctx, spec)


def serial_from_digest(digest: str) -> str:
    """``urn:uuid:`` UUIDv5 (in ``SERIAL_NAMESPACE``) of a hex content digest."""
    return f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, digest)}"


def serial_number(bom: dict[str, Any]) -> str:
    """``urn:uuid:`` UUIDv5 of the document's content without its serial number (the sha256 of its
    compact, key-sorted JSON; ``render_cyclonedx`` computes the same digest while streaming)."""
    body = {key: value for key, value in bom.items() if key != "serialNumber"}
    return serial_from_digest(hashlib.sha256(jsonio.dumps(body, indent=False)).hexdigest())


def _metadata(snapshot: ExportSnapshot, inventory: Inventory,
              builder: _ComponentBuilder) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    metadata: dict[str, Any] = {
        "timestamp": iso_z(snapshot.generated_at),
        "tools": {"components": [{"type": "application", "name": "exportcenter", "version": __version__,
                                  "bom-ref": f"tool:exportcenter@{__version__}"}]},
    }
    roots = [builder.build(root.component) for root in inventory.roots]
    extra: list[dict[str, Any]] = []
    if len(roots) == 1:
        metadata["component"] = roots[0]
    else:
        aggregate_ref = f"export:{snapshot.tenant}"
        metadata["component"] = {"type": "application", "name": f"{snapshot.tenant} export",
                                 "bom-ref": aggregate_ref}
        extra = roots
        inventory.dependencies = {aggregate_ref: sorted(r["bom-ref"] for r in roots), **inventory.dependencies}
    properties = [{"name": "exportcenter:tenant", "value": snapshot.tenant}]
    properties += [{"name": str(key), "value": str(value)} for key, value in snapshot.options.custom_fields]
    scan_names = sorted({scan.scanner_name + (f" {scan.scanner_version}" if scan.scanner_version else "")
                         for scan in snapshot.scans})
    if scan_names:
        properties.append({"name": "exportcenter:scanners", "value": ", ".join(scan_names)})
    metadata["properties"] = properties
    return metadata, extra


class _ComponentBuilder:
    def __init__(self, spec: str, ctx: RenderContext) -> None:
        self.types = _COMPONENT_TYPES[spec]
        self.ctx = ctx

    def build(self, component: Component) -> dict[str, Any]:
        kind = component.type if component.type in self.types else "library"
        if kind != component.type:
            self.ctx.warn(f"CycloneDX: component type {component.type!r} is not in this spec version; "
                          "written as 'library'")
        item: dict[str, Any] = {"type": kind, "bom-ref": component.bom_ref,
                                "name": component.name or component.purl or component.bom_ref}
        if component.version:
            item["version"] = component.version[:1024]
        if component.group:
            item["group"] = component.group
        if component.purl:
            item["purl"] = component.purl
        if component.cpe:
            item["cpe"] = component.cpe
        if component.supplier:
            item["supplier"] = {"name": component.supplier}
        if component.description:
            item["description"] = component.description
        if component.licenses:
            licenses = cyclonedx_licenses(component.licenses)
            if licenses:
                item["licenses"] = licenses
        hashes = self._hashes(component)
        if hashes:
            item["hashes"] = hashes
        return item

    def _hashes(self, component: Component) -> list[dict[str, str]]:
        hashes: list[dict[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for algorithm, content in component.hashes:
            name = _HASH_ALGORITHMS.get(algorithm.lower().replace("-", "").replace("_", ""))
            value = content.strip()
            if name is None or len(value) not in _HEX_LENGTHS or not set(value) <= _HEX:
                self.ctx.warn(f"CycloneDX: hash {algorithm}:{value[:16]} of {component.bom_ref} is not a "
                              "CycloneDX hash; left out")
                continue
            if (name, value) not in seen:
                seen.add((name, value))
                hashes.append({"alg": name, "content": value})
        return hashes
