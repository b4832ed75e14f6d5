"""Package URL parsing, normalisation and matching (exportcenter.vex.purl / products)."""

from __future__ import annotations

import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.vex.products import normalize_digest, parse_image_ref, resolve_product
from exportcenter.vex.purl import InvalidPurlError, normalize_purl, normalize_repository, parse_purl, try_parse_purl

NGINX_DIGEST = "sha256:13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0"


def test_parses_every_component_and_percent_decodes() -> None:
    purl = parse_purl("pkg:npm/%40angular/animation@12.3.1?arch=x86_64&foo=a%2Fb#dist/lib%20x")
    assert purl.type == "npm"
    assert purl.namespace == "@angular"
    assert purl.name == "animation"
    assert purl.version == "12.3.1"
    assert purl.qualifiers == (("arch", "x86_64"), ("foo", "a/b"))
    assert purl.subpath == "dist/lib x"


def test_oci_purl_from_the_vexctl_nginx_sample_decodes_the_digest() -> None:
    purl = parse_purl("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0")
    assert (purl.type, purl.namespace, purl.name, purl.version) == ("oci", None, "nginx", NGINX_DIGEST)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("pkg:PyPI/Django_Rest_Framework@3.14", "pkg:pypi/django-rest-framework@3.14"),
        ("pkg:GitHub/Package-URL/Purl-Spec@244fd47e", "pkg:github/package-url/purl-spec@244fd47e"),
        ("pkg:deb/Debian/LibDe265-0@1.0.11-1", "pkg:deb/debian/libde265-0@1.0.11-1"),
        # maven is case sensitive: nothing changes
        ("pkg:maven/org.Apache.Logging/Log4j-Core@2.14.1", "pkg:maven/org.Apache.Logging/Log4j-Core@2.14.1"),
        # qualifiers: keys lowercased, sorted, empty values dropped
        ("pkg:rpm/fedora/curl@7.50.3?DISTRO=fedora-25&arch=i386&epoch=", "pkg:rpm/fedora/curl@7.50.3?arch=i386&distro=fedora-25"),
        ("pkg://golang/github.com/Foo/Bar@v1.0.0", "pkg:golang/github.com/foo/bar@v1.0.0"),
        ("pkg:oci/debian@SHA256%3A244FD47E?repository_url=https://index.docker.io/library/debian",
         "pkg:oci/debian@sha256:244fd47e?repository_url=docker.io/library/debian"),
    ],
)
def test_normalisation_follows_the_type_case_rules(raw: str, canonical: str) -> None:
    assert normalize_purl(raw) == canonical
    assert normalize_purl(canonical) == canonical  # idempotent


@pytest.mark.parametrize("bad", ["", "npm/lodash@1.0", "pkg:", "pkg:npm", "pkg:npm/", "pkg:npm/@1.0", "pkg:npm/x?novalue"])
def test_invalid_purls_raise_a_clear_error(bad: str) -> None:
    with pytest.raises(InvalidPurlError) as info:
        parse_purl(bad)
    assert isinstance(info.value, InvalidInputError)
    assert "not a package URL" in info.value.message
    assert try_parse_purl(bad) is None


def test_versionless_statement_purl_matches_every_version() -> None:
    statement = parse_purl("pkg:deb/debian/libde265-0")
    assert statement.matches(parse_purl("pkg:deb/debian/libde265-0@1.0.11-1?arch=amd64&distro=debian-12"))
    assert statement.matches(parse_purl("pkg:deb/debian/libde265-0@1.0.9-1"))
    assert not statement.matches(parse_purl("pkg:deb/debian/libde265-dev@1.0.11-1"))
    assert not statement.matches(parse_purl("pkg:deb/ubuntu/libde265-0@1.0.11-1"))


def test_versioned_statement_purl_needs_the_same_version() -> None:
    statement = parse_purl("pkg:deb/debian/libde265-0@1.0.11-1")
    assert statement.matches(parse_purl("pkg:deb/debian/libde265-0@1.0.11-1?arch=amd64"))
    assert not statement.matches(parse_purl("pkg:deb/debian/libde265-0@1.0.11-2"))


def test_statement_qualifiers_must_be_present_and_equal() -> None:
    scanned = parse_purl("pkg:deb/debian/libde265-0@1.0.11-1?arch=amd64&distro=debian-12")
    assert parse_purl("pkg:deb/debian/libde265-0?arch=amd64").matches(scanned)
    assert not parse_purl("pkg:deb/debian/libde265-0?arch=arm64").matches(scanned)
    assert not parse_purl("pkg:deb/debian/libde265-0?repository_url=x.example").matches(scanned)
    # the other way round: the scanned purl's extra qualifiers do not matter, missing ones do
    assert not scanned.matches(parse_purl("pkg:deb/debian/libde265-0@1.0.11-1"))


def test_subpath_must_match_when_given() -> None:
    scanned = parse_purl("pkg:golang/github.com/gorilla/context@234fd47e#api")
    assert parse_purl("pkg:golang/github.com/gorilla/context#api").matches(scanned)
    assert not parse_purl("pkg:golang/github.com/gorilla/context#internal").matches(scanned)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("library/nginx", "docker.io/library/nginx"),
        ("https://index.docker.io/library/nginx/", "docker.io/library/nginx"),
        ("bkimminich/juice-shop", "docker.io/bkimminich/juice-shop"),
        ("GHCR.io/Aquasecurity/Trivy", "ghcr.io/aquasecurity/trivy"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_repository_spellings_of_one_image_compare_equal(raw: str, normalised: str) -> None:
    assert normalize_repository(raw) == normalised


def test_image_references_and_digests() -> None:
    ref = parse_image_ref(f"nginx@{NGINX_DIGEST}")
    assert ref is not None and ref.repository == "docker.io/library/nginx" and ref.digest == NGINX_DIGEST
    tagged = parse_image_ref("bkimminich/juice-shop:v10.2.0")
    assert tagged is not None and tagged.tag == "v10.2.0" and tagged.digest is None
    assert normalize_digest(NGINX_DIGEST.upper().replace("SHA256", "sha256")) == NGINX_DIGEST
    assert normalize_digest("sha256:abc") is None
    assert parse_image_ref("not an image!") is None


def test_product_classification() -> None:
    assert resolve_product(NGINX_DIGEST).image is not None
    oci = resolve_product("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0")
    assert oci.image is not None and oci.image.digest == NGINX_DIGEST
    package = resolve_product("pkg:apk/alpine/libssl3@3.0.8-r3")
    assert package.purl is not None and package.image is None
    bom_link = resolve_product(
        "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"
    )
    assert bom_link.purl is not None and bom_link.purl.name == "jackson-databind"
    assert resolve_product("comp-1", {"comp-1": "pkg:npm/lodash@4.17.20"}).purl == parse_purl("pkg:npm/lodash@4.17.20")
    opaque = resolve_product("cpe:/a:redhat:quarkus:2.13")
    assert opaque.purl is None and opaque.image is None
