"""Where a SARIF result points, and how it is recognised again: artifact URIs, categories, fingerprints.

GitHub code scanning wants every result at a non-empty *relative* RFC 3986 URI. Container findings have
no source file, so they point at the package's manifest inside the image (``lib/apk/db/installed``,
``usr/local/lib/node_modules/ajv/package.json``) or at a configurable fallback, never at an image label
such as ``nginx:1.25``. Fingerprints and ``automationDetails.id`` use the image name *without* its tag
or digest, so re-scanning ``juice-shop:v12`` after ``juice-shop:v10`` updates the same alerts.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import quote

from exportcenter.model import Finding, Package, Scan

FINGERPRINT_KEY = "exportcenterFindingHash/v1"

# Characters kept as they are in a path segment (RFC 3986 pchar minus ':' so that the first segment of
# a relative reference can never be read as a scheme). Everything else is percent-encoded.
_SAFE_PATH_CHARS = "/-._~!$&'()*+,;=@"

# Package databases inside a container image, by ecosystem: the manifest an OS package comes from.
_OS_PACKAGE_DATABASES = {
    "apk": "lib/apk/db/installed",
    "deb": "var/lib/dpkg/status",
    "rpm": "var/lib/rpm/Packages",
}
_OS_TYPE_ALIASES = {
    "apk": "apk", "alpine": "apk", "wolfi": "apk", "chainguard": "apk",
    "deb": "deb", "dpkg": "deb", "debian": "deb", "ubuntu": "deb",
    "rpm": "rpm", "redhat": "rpm", "centos": "rpm", "rocky": "rpm", "alma": "rpm", "almalinux": "rpm",
    "amazon": "rpm", "oracle": "rpm", "suse": "rpm", "opensuse": "rpm", "sles": "rpm", "photon": "rpm",
    "fedora": "rpm", "cbl-mariner": "rpm", "azurelinux": "rpm", "mariner": "rpm",
}
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:/")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_IMAGE_REF = re.compile(r"^[\w.\-]+(:\d+)?(/[\w.\-]+)*(:[\w][\w.\-]{0,127})?(@sha256:[0-9a-fA-F]{64})?$")


@lru_cache(maxsize=65536)
def normalise_uri(raw: str | None) -> str | None:
    """A relative RFC 3986 reference for a file path, or None when nothing usable is left.

    Backslashes become '/', a drive letter, scheme or leading '/' is dropped, '.' and '..' segments and
    empty segments are removed, and every character outside the path-safe set (spaces, ':', '%', '#',
    '?', non-ASCII) is percent-encoded as UTF-8.
    """
    if not raw:
        return None
    path = raw.strip().replace("\\", "/")
    path = _SCHEME.sub("", path)
    path = _DRIVE_LETTER.sub("", path)
    segments = [seg for seg in path.split("/") if seg not in ("", ".", "..")]
    if not segments:
        return None
    return quote("/".join(segments), safe=_SAFE_PATH_CHARS)


def image_name_without_tag(reference: str) -> str:
    """``docker.io/bkimminich/juice-shop:v10.2.0@sha256:..`` -> ``docker.io/bkimminich/juice-shop``.

    A registry port (``localhost:5000/app``) is kept: only a ':' after the last '/' starts a tag.
    """
    name = reference.strip().split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return name


def scan_subject(scan: Scan | None, fallback: str) -> str:
    """The stable name of what was scanned, used in categories and fingerprints (no tag, no digest)."""
    if scan is None:
        return fallback
    name = image_name_without_tag(scan.artifact_name) if scan.artifact_name else ""
    name = _SCHEME.sub("", name).strip("/")
    if name in ("", ".", ".."):
        # an unnamed artifact ("." for a filesystem scan, "" in some Trivy files): its kind, plus the
        # image digest when there is one, which does not change with a tag
        digest = (scan.artifact_digest or "").removeprefix("sha256:")[:12]
        return f"{scan.artifact_type}-{digest}" if digest else scan.artifact_type
    return name


def automation_id(export_type: str, subject: str) -> str:
    """One GitHub analysis category per scanned subject. The trailing '/' leaves the run id empty, so
    the whole string is the category."""
    cleaned = "/".join(seg for seg in subject.replace("\\", "/").split("/") if seg)
    return f"exportcenter/{export_type}/{cleaned}/"


def _looks_like_path(target: str, scan: Scan | None) -> bool:
    return _target_is_path(target, scan.artifact_name if scan is not None else "")


@lru_cache(maxsize=4096)
def _target_is_path(target: str, artifact_name: str) -> bool:
    if not target or " (" in target or target.endswith(")"):
        return False  # Trivy's "image:tag (alpine 3.11.5)" / "Node.js" style labels
    if artifact_name and target.strip() == artifact_name.strip():
        return False
    if "/" not in target and "\\" not in target and "." not in target:
        return False  # a bare word such as "Node.js" has a dot; "Java" or "Python" are labels
    if target in ("Node.js", "Python", "Java", "Ruby", "PHP", "Rust", "Go", ".NET", "Dart", "Swift"):
        return False
    tail = target.rsplit("/", 1)[-1]
    return not (_IMAGE_REF.match(target) and ":" in tail)


def os_package_kind(package: Package | None) -> str | None:
    """'apk', 'deb' or 'rpm' when the package is an OS package, else None."""
    if package is None:
        return None
    if package.purl and package.purl.startswith("pkg:"):
        purl_type = package.purl[4:].split("/", 1)[0].lower()
        if purl_type in _OS_PACKAGE_DATABASES:
            return purl_type
    if package.type:
        return _OS_TYPE_ALIASES.get(package.type.lower())
    return None


def finding_uri(finding: Finding, scan: Scan | None, fallback_uri: str, subject: str) -> str:
    """The artifact URI of a finding: its manifest path, else an OS package database, else a fallback
    derived from the configured ``fallback_uri`` and the subject name. Never empty, never absolute."""
    package = finding.package
    candidates = [package.path if package else None, finding.location]
    if finding.target and _looks_like_path(finding.target, scan):
        candidates.append(finding.target)
    for candidate in candidates:
        uri = normalise_uri(candidate)
        if uri:
            return uri
    os_kind = os_package_kind(package)
    if os_kind is not None:
        return _OS_PACKAGE_DATABASES[os_kind]
    return fallback_location(fallback_uri, subject)


def fallback_location(fallback_uri: str, subject: str) -> str:
    base = normalise_uri(fallback_uri) or "container-image"
    tail = normalise_uri(subject)
    return f"{base}/{tail}" if tail else base


def fingerprint(*parts: str) -> str:
    """A sha256 over the parts joined with a separator that cannot occur in them unescaped."""
    joined = "\x1f".join(parts)
    if joined.count("\x1f") != len(parts) - 1:
        joined = "\x1f".join(part.replace("\x1f", " ") for part in parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()
