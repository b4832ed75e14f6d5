"""What a VEX product or subcomponent string refers to, and whether it identifies a scanned image.

A product is one of: a package URL, an image digest (``sha256:...``), an image reference
(``nginx:1.25``, ``docker.io/library/nginx@sha256:...``), a CycloneDX BOM-Link
(``urn:cdx:<serial>/<version>#<bom-ref>``), a CPE, or an opaque id (a bom-ref, a CSAF product id).
OCI purls (``pkg:oci/nginx@sha256:...?repository_url=...``), bare digests and image references all
identify an image; they are compared on the digest when they carry one, on the repository otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from exportcenter.model import Scan
from exportcenter.vex.purl import PackageURL, is_purl, normalize_repository, try_parse_purl

_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")
# [registry[:port]/]path[:tag][@digest]; path components are lowercase alphanumerics and separators.
_IMAGE_REF_RE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[a-z0-9]+:[0-9a-fA-F]{32,}))?$"
)


def normalize_digest(value: str) -> str | None:
    """``sha256:<hex>`` lowercased, or ``None`` when ``value`` is not a digest."""
    text = value.strip().lower()
    return text if _DIGEST_RE.match(text) else None


@dataclass(frozen=True, slots=True)
class ImageRef:
    repository: str | None  # normalised (docker.io/library/nginx) or None when only a digest is known
    tag: str | None
    digest: str | None


def parse_image_ref(text: str) -> ImageRef | None:
    """Parse ``[registry/]repo[:tag][@digest]`` (or a bare digest); ``None`` when it is not one."""
    value = text.strip()
    digest = normalize_digest(value)
    if digest:
        return ImageRef(None, None, digest)
    match = _IMAGE_REF_RE.match(value)
    if not match:
        return None
    found_digest = match.group("digest")
    if found_digest and normalize_digest(found_digest) is None:
        return None
    return ImageRef(
        normalize_repository(match.group("repo")),
        match.group("tag"),
        found_digest.lower() if found_digest else None,
    )


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """Everything that identifies the image a scan looked at."""

    digests: frozenset[str]
    repositories: frozenset[str]
    tags: frozenset[str]

    @property
    def is_empty(self) -> bool:
        return not (self.digests or self.repositories)


def image_identity(scan: Scan) -> ImageIdentity:
    """Digests (image id and repo digests), repositories and tags of a scanned image."""
    digests: set[str] = set()
    repositories: set[str] = set()
    tags: set[str] = set()
    if scan.artifact_digest:
        digest = normalize_digest(scan.artifact_digest)
        if digest:
            digests.add(digest)
    for text in (scan.artifact_name, *scan.repo_digests):
        ref = parse_image_ref(text) if text else None
        if ref is None:
            continue
        if ref.digest:
            digests.add(ref.digest)
        if ref.repository:
            repositories.add(ref.repository)
        if ref.tag:
            tags.add(ref.tag)
    return ImageIdentity(frozenset(digests), frozenset(repositories), frozenset(tags))


@dataclass(frozen=True, slots=True)
class ProductRef:
    """A product or subcomponent string, resolved once: either a purl, an image, or opaque text."""

    raw: str
    purl: PackageURL | None = None
    image: ImageRef | None = None
    image_qualifiers: tuple[tuple[str, str], ...] = ()  # OCI purl qualifiers other than repository_url/tag

    @property
    def is_image(self) -> bool:
        return self.image is not None

    def identifies_image(self, identity: ImageIdentity) -> bool:
        """Does this product name the scanned image?

        With a digest, the digest decides (an explicit repository must also agree when the scan
        knows its repository). Without one, the repository must be the scanned one, and a tag or
        any other OCI qualifier in the product must be present and equal in the scan.
        """
        image = self.image
        if image is None or identity.is_empty:
            return False
        if image.digest is not None:
            if image.digest not in identity.digests:
                return False
            explicit_repo = image.repository is not None and not image.repository.startswith("*/")
            return not (explicit_repo and identity.repositories and image.repository not in identity.repositories)
        if image.repository is None or self.image_qualifiers:
            return False
        if image.repository not in identity.repositories and not _same_image_name(
            image.repository, identity.repositories
        ):
            return False
        return image.tag is None or image.tag in identity.tags

    def matches_package(self, scanned: PackageURL | None) -> bool:
        return self.purl is not None and scanned is not None and self.purl.matches(scanned)


def _same_image_name(repository: str, scanned: frozenset[str]) -> bool:
    """An OCI purl without repository_url only knows the last path segment (``pkg:oci/nginx``)."""
    if not repository.startswith("*/"):
        return False
    name = repository[2:]
    return any(repo.rsplit("/", 1)[-1] == name for repo in scanned)


def resolve_product(text: str, bom_refs: Mapping[str, str] | None = None) -> ProductRef:
    """Classify a product / subcomponent string. ``bom_refs`` maps CycloneDX bom-refs to purls."""
    raw = text.strip()
    target = raw
    if raw.startswith("urn:cdx:") and "#" in raw:  # BOM-Link: the fragment is the bom-ref
        target = raw.split("#", 1)[1]
    if bom_refs and target in bom_refs:
        target = bom_refs[target]
    if is_purl(target):
        purl = try_parse_purl(target)
        if purl is None:
            return ProductRef(raw)
        if purl.type in ("oci", "docker"):
            return _image_from_purl(raw, purl)
        return ProductRef(raw, purl=purl)
    if target.lower().startswith("cpe:"):
        return ProductRef(raw)
    image = parse_image_ref(target)
    if image is not None and (image.digest or image.tag or "/" in target):
        return ProductRef(raw, image=image)
    return ProductRef(raw)


def _image_from_purl(raw: str, purl: PackageURL) -> ProductRef:
    qualifiers = purl.qualifier_map
    digest = normalize_digest(purl.version) if purl.version else None
    tag = qualifiers.pop("tag", None)
    repository_url = qualifiers.pop("repository_url", None)
    if purl.type == "docker":  # pkg:docker/library/nginx@1.25 : the version is a tag or a digest
        repository = normalize_repository("/".join(p for p in (purl.namespace, purl.name) if p))
        if purl.version and digest is None:
            tag = tag or purl.version
    elif repository_url:
        repository = normalize_repository(repository_url)
    else:
        repository = "*/" + purl.name  # only the image name is known
    image = ImageRef(repository, tag, digest)
    return ProductRef(raw, purl=purl, image=image, image_qualifiers=tuple(sorted(qualifiers.items())))
