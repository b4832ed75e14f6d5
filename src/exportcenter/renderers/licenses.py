"""Licence normalisation shared by the CycloneDX and SPDX renderers.

Scanners report licences three ways (``License.kind``): an SPDX id, an SPDX expression, or free text.
Both SBOM formats want them sorted out:

- CycloneDX accepts ``license.id`` only from the SPDX list frozen into its schema (``spdx.schema.json``,
  shipped as ``data/cyclonedx-spdx-license-ids.json``), a ``license.name`` for anything else, or one
  ``expression``; a list of ids/names and an expression cannot be mixed.
- SPDX 2.3 wants one valid expression per field, with every ``LicenseRef-*`` defined in
  ``hasExtractedLicensingInfos``.

Expressions are checked with ``license-expression`` (the library spdx-tools validates with), so what we
call valid is what the SPDX validator calls valid. Results are cached: real SBOMs repeat a few hundred
distinct licence strings across thousands of packages.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from license_expression import ExpressionError, Licensing, get_spdx_licensing

from exportcenter.model import License

_NOT_REF_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")


@cache
def cyclonedx_license_ids() -> dict[str, str]:
    """Lower-cased id -> canonical id, for every id CycloneDX's schema accepts in ``license.id``."""
    text = resources.files("exportcenter").joinpath("data/cyclonedx-spdx-license-ids.json").read_text("utf-8")
    ids: list[str] = json.loads(text)
    return {value.lower(): value for value in ids}


@cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


@lru_cache(maxsize=16384)
def normalize_expression(text: str) -> str | None:
    """The canonical SPDX expression for ``text`` ("mit and apache-2.0" -> "MIT AND Apache-2.0",
    deprecated "GPL-2.0+" -> "GPL-2.0-or-later"), or None when it is not a valid SPDX expression."""
    cleaned = text.strip()
    if not cleaned or cleaned.upper() in ("NOASSERTION", "NONE", "UNKNOWN"):
        return None
    try:
        parsed = _licensing().parse(cleaned, validate=True, strict=True)
    except (ExpressionError, TypeError, ValueError, AttributeError):  # the library raises AttributeError on some inputs
        return None
    if parsed is None:
        return None
    rendered: str = parsed.render()
    return rendered or None


_LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.\-]+$")


@lru_cache(maxsize=16384)
def expression_with_refs(text: str) -> tuple[str, tuple[str, ...]] | None:
    """Like :func:`normalize_expression`, but ``LicenseRef-*`` symbols (as SPDX sources write them) are
    kept: returns (expression, the LicenseRef ids it uses), or None when it is not valid SPDX."""
    normal = normalize_expression(text)
    if normal is not None:
        return normal, ()
    cleaned = text.strip()
    try:
        unknown = _licensing().validate(cleaned).invalid_symbols
        if not unknown or not all(_LICENSE_REF.match(symbol) for symbol in unknown):
            return None
        parsed = _licensing().parse(cleaned, validate=False, strict=True)
    except (ExpressionError, TypeError, ValueError, AttributeError):  # the library raises AttributeError on some inputs
        return None
    if parsed is None:
        return None
    return parsed.render(), tuple(sorted(set(unknown)))


def _is_compound(expression: str) -> bool:
    return " " in expression


def license_ref(text: str) -> str:
    """A legal, stable ``LicenseRef-`` id for free licence text (readable part + short digest)."""
    readable = _NOT_REF_CHARS.sub("-", text.strip()).strip("-.")[:48] or "unnamed"
    digest = hashlib.sha256(text.strip().encode("utf-8", "replace")).hexdigest()[:8]
    return f"LicenseRef-{readable}-{digest}"


def cyclonedx_licenses(licenses: Iterable[License]) -> list[dict[str, Any]]:
    """A CycloneDX ``licenseChoice``: ids and names as a list, or one expression.

    A value CycloneDX's id list knows becomes ``{"license": {"id"}}`` (deprecated ids and names that are
    exactly an id are normalised); a valid compound expression becomes ``{"expression"}``; anything else
    is a ``{"license": {"name"}}``. When expressions meet other licences, they are joined with AND into one
    expression if every part is valid SPDX, otherwise the expressions are kept as names.
    """
    known = cyclonedx_license_ids()
    ids: list[str] = []
    names: list[str] = []
    expressions: list[str] = []
    for lic in licenses:
        value = lic.value.strip()
        if not value or value.upper() in ("NOASSERTION", "NONE", "UNKNOWN"):
            continue
        exact = known.get(value.lower())
        if exact is not None:
            _append_once(ids, exact)
            continue
        normal = normalize_expression(value)
        if normal is None:
            _append_once(names, value)
        elif not _is_compound(normal) and normal.lower() in known:
            _append_once(ids, known[normal.lower()])
        else:
            _append_once(expressions, normal)
    if expressions:
        if not names and (len(expressions) > 1 or ids):
            joined = " AND ".join(_wrap(part) for part in [*ids, *expressions])
            return [{"expression": joined}]
        if not names and not ids:
            return [{"expression": expressions[0]}]
        names.extend(expressions)
    return [{"license": {"id": value}} for value in ids] + [{"license": {"name": value}} for value in names]


def _append_once(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def _wrap(expression: str) -> str:
    return f"({expression})" if _is_compound(expression) else expression


class SpdxLicenseRegistry:
    """Turns licence lists into SPDX 2.3 expressions and remembers every LicenseRef it had to invent,
    so the document can define each one in ``hasExtractedLicensingInfos``."""

    def __init__(self) -> None:
        self._refs: dict[str, str] = {}  # LicenseRef id -> original text

    def expression(self, licenses: Iterable[License]) -> str:
        """One expression (parts joined with AND) or ``NOASSERTION`` when nothing is known."""
        parts: list[str] = []
        for lic in licenses:
            value = lic.value.strip()
            if not value or value.upper() in ("NOASSERTION", "UNKNOWN"):
                continue
            if value.upper() == "NONE":
                _append_once(parts, "NONE")
                continue
            found = expression_with_refs(value)
            if found is None:
                ref = license_ref(value)
                self._refs.setdefault(ref, value)
                normal = ref
            else:
                normal, refs = found
                for ref in refs:
                    self._refs.setdefault(ref, f"{ref} (licence text not included in the source document)")
            _append_once(parts, normal)
        if not parts:
            return "NOASSERTION"
        if "NONE" in parts:
            if len(parts) == 1:
                return "NONE"
            parts.remove("NONE")
        if len(parts) == 1:
            return parts[0]
        return " AND ".join(_wrap(part) for part in parts)

    def extracted_licensing_infos(self) -> list[dict[str, Any]]:
        return [
            {
                "licenseId": ref,
                "name": text,
                "extractedText": text,
                "comment": "Licence text as reported by the scanner; it is not on the SPDX licence list.",
            }
            for ref, text in sorted(self._refs.items())
        ]
