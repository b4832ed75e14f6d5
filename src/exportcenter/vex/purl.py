"""Package URLs (purl): parse, normalise and match.

``pkg:type/namespace/name@version?qualifiers#subpath``. Components are percent-decoded on parse and
normalised per type (the case rules of the purl spec's type definitions), so two spellings of the same
package compare equal. Matching follows VEX practice: a statement purl without a version matches every
version, and every qualifier the statement names must be present with an equal value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

from exportcenter.errors import InvalidInputError

# Types whose namespace is not case sensitive (lowercased on normalisation).
_NAMESPACE_CASE_INSENSITIVE = frozenset(
    {"alpm", "apk", "bitbucket", "composer", "deb", "github", "golang", "hex", "qpkg", "rpm"}
)
# Types whose name is not case sensitive (lowercased on normalisation).
_NAME_CASE_INSENSITIVE = frozenset(
    {"alpm", "apk", "bitbucket", "composer", "deb", "github", "golang", "hex", "npm", "oci", "pypi"}
)
# Types whose version is not case sensitive; for OCI the version is a digest ("sha256:...").
_VERSION_CASE_INSENSITIVE = frozenset({"oci", "huggingface", "pypi"})

_TYPE_RE = re.compile(r"^[a-z.+-][a-z0-9.+-]*$")
_QUALIFIER_KEY_RE = re.compile(r"^[a-z.\-_][a-z0-9.\-_]*$")
# Characters left unencoded when writing a canonical purl component.
_SAFE_SEGMENT = "!$&'()*+,;=:@._~-"  # '/' is a separator inside namespace and subpath, never in one segment
_SAFE_QUALIFIER_VALUE = "!$'()*+,;:@/._~-"


class InvalidPurlError(InvalidInputError):
    """A string that is not a valid package URL."""

    code = "invalid_purl"


@dataclass(frozen=True, slots=True)
class PackageURL:
    """A parsed, normalised package URL. Build one with :func:`parse_purl`."""

    type: str
    namespace: str | None
    name: str
    version: str | None = None
    qualifiers: tuple[tuple[str, str], ...] = ()  # sorted by key, empty values dropped
    subpath: str | None = None

    @property
    def qualifier_map(self) -> dict[str, str]:
        return dict(self.qualifiers)

    @property
    def coordinates(self) -> tuple[str, str | None, str]:
        """(type, namespace, name): the package without version, qualifiers or subpath."""
        return (self.type, self.namespace, self.name)

    def without_version(self) -> PackageURL:
        return PackageURL(self.type, self.namespace, self.name, None, self.qualifiers, self.subpath)

    def to_string(self) -> str:
        """The canonical form (percent-encoded, qualifiers sorted)."""
        parts = [f"pkg:{self.type}/"]
        if self.namespace:
            parts.append("/".join(quote(seg, safe=_SAFE_SEGMENT) for seg in self.namespace.split("/")))
            parts.append("/")
        parts.append(quote(self.name, safe=_SAFE_SEGMENT))
        if self.version is not None:
            parts.append("@" + quote(self.version, safe=_SAFE_SEGMENT.replace("@", "")))
        if self.qualifiers:
            parts.append(
                "?" + "&".join(f"{k}={quote(v, safe=_SAFE_QUALIFIER_VALUE)}" for k, v in self.qualifiers)
            )
        if self.subpath:
            parts.append("#" + "/".join(quote(seg, safe=_SAFE_SEGMENT) for seg in self.subpath.split("/")))
        return "".join(parts)

    def __str__(self) -> str:
        return self.to_string()

    def matches(self, scanned: PackageURL) -> bool:
        """Does this purl (from a VEX statement or a policy) identify the ``scanned`` package?

        Type, namespace and name must be equal; a missing version matches every version; every
        qualifier given here must be present in ``scanned`` with an equal value; a subpath given here
        must be equal.
        """
        if self.coordinates != scanned.coordinates:
            return False
        if self.version is not None and self.version != scanned.version:
            return False
        if self.qualifiers:
            theirs = scanned.qualifier_map
            for key, value in self.qualifiers:
                if theirs.get(key) != value:
                    return False
        return self.subpath is None or self.subpath == scanned.subpath


def parse_purl(text: str) -> PackageURL:
    """Parse and normalise a purl; raises :class:`InvalidPurlError` saying why it is not one."""
    result = _parse_cached(text)
    if isinstance(result, str):
        raise InvalidPurlError(f"not a package URL: {text!r}: {result}", value=text)
    return result


def try_parse_purl(text: str | None) -> PackageURL | None:
    """Like :func:`parse_purl` but returns ``None`` for anything that is not a valid purl."""
    if not text:
        return None
    result = _parse_cached(text)
    return None if isinstance(result, str) else result


def normalize_purl(text: str) -> str:
    """The canonical string of a purl (raises :class:`InvalidPurlError` when it is not one)."""
    return parse_purl(text).to_string()


def is_purl(text: str) -> bool:
    return text[:4].lower() == "pkg:"


@lru_cache(maxsize=131072)
def _parse_cached(text: str) -> PackageURL | str:
    """Parse ``text``; returns the reason as a string instead of raising, so failures are cached too."""
    remainder = text.strip()
    if not is_purl(remainder):
        return "it must start with 'pkg:'"
    remainder = remainder[4:].lstrip("/")

    remainder, _, raw_subpath = remainder.partition("#")
    remainder, _, raw_qualifiers = remainder.partition("?")
    remainder = remainder.strip("/")

    raw_type, sep, remainder = remainder.partition("/")
    purl_type = raw_type.lower()
    if not sep or not _TYPE_RE.match(purl_type):
        return "the type is missing or invalid"

    version: str | None = None
    at = remainder.rfind("@")
    if at > remainder.rfind("/"):  # an '@' in the last segment separates the version
        version = unquote(remainder[at + 1:]) or None
        remainder = remainder[:at]

    segments = [unquote(seg) for seg in remainder.split("/") if seg]
    if not segments or not segments[-1].strip():
        return "the name is missing"
    name = segments[-1]
    namespace = "/".join(segments[:-1]) or None

    qualifiers = _parse_qualifiers(raw_qualifiers)
    if isinstance(qualifiers, str):
        return qualifiers
    subpath = "/".join(seg for seg in (unquote(s) for s in raw_subpath.split("/")) if seg not in ("", ".", ".."))

    return _normalize(PackageURL(purl_type, namespace, name, version, qualifiers, subpath or None))


def _parse_qualifiers(raw: str) -> tuple[tuple[str, str], ...] | str:
    found: dict[str, str] = {}
    for pair in raw.split("&"):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        key = key.strip().lower()
        if not eq or not _QUALIFIER_KEY_RE.match(key):
            return f"qualifier {pair!r} is not key=value"
        decoded = unquote(value)
        if decoded:
            found[key] = decoded
    return tuple(sorted(found.items()))


def _normalize(purl: PackageURL) -> PackageURL:
    namespace, name, version = purl.namespace, purl.name, purl.version
    if namespace and purl.type in _NAMESPACE_CASE_INSENSITIVE:
        namespace = namespace.lower()
    if purl.type in _NAME_CASE_INSENSITIVE:
        name = name.lower()
    if purl.type == "pypi":
        name = name.replace("_", "-")
    if version and purl.type in _VERSION_CASE_INSENSITIVE:
        version = version.lower()
    qualifiers = purl.qualifiers
    if purl.type == "oci" and "repository_url" in purl.qualifier_map:
        qualifiers = tuple(
            (k, normalize_repository(v) if k == "repository_url" else v) for k, v in qualifiers
        )
    return PackageURL(purl.type, namespace, name, version, qualifiers, purl.subpath)


_DOCKER_HUB_ALIASES = ("index.docker.io/", "registry-1.docker.io/", "registry.hub.docker.com/")


def normalize_repository(repository: str) -> str:
    """Normalise an image repository so that every spelling of one Docker Hub image compares equal:
    ``nginx``, ``library/nginx``, ``docker.io/library/nginx`` and ``https://index.docker.io/library/nginx``
    all become ``docker.io/library/nginx``. Registry host and path are lowercased."""
    repo = repository.strip().lower()
    for scheme in ("https://", "http://", "oci://", "docker://"):
        if repo.startswith(scheme):
            repo = repo[len(scheme):]
    repo = repo.rstrip("/")
    for alias in _DOCKER_HUB_ALIASES:
        if repo.startswith(alias):
            repo = "docker.io/" + repo[len(alias):]
    first, sep, _ = repo.partition("/")
    has_registry = bool(sep) and ("." in first or ":" in first or first == "localhost")
    if not has_registry:
        repo = "docker.io/" + repo
    if repo.startswith("docker.io/") and repo.count("/") == 1:
        repo = "docker.io/library/" + repo[len("docker.io/"):]
    return repo
