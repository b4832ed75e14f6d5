"""VEX: package URLs, product matching, and applying statements to findings."""

from exportcenter.vex.apply import VexOutcome, apply_vex, vuln_key
from exportcenter.vex.products import ImageIdentity, ProductRef, image_identity, resolve_product
from exportcenter.vex.purl import (
    InvalidPurlError,
    PackageURL,
    normalize_purl,
    normalize_repository,
    parse_purl,
    try_parse_purl,
)

__all__ = [
    "ImageIdentity",
    "InvalidPurlError",
    "PackageURL",
    "ProductRef",
    "VexOutcome",
    "apply_vex",
    "image_identity",
    "normalize_purl",
    "normalize_repository",
    "parse_purl",
    "resolve_product",
    "try_parse_purl",
    "vuln_key",
]
