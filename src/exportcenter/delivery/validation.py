"""Checks of a delivery config at submit time: what a later delivery attempt would refuse, refused now.

Only the static checks run here (required keys, address syntax, URL scheme, literal internal IP hosts);
host names are resolved and checked again by the SSRF guard when the delivery really connects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exportcenter.delivery.base import DeliveryFailure
from exportcenter.delivery.email import _recipients
from exportcenter.delivery.netguard import check_url
from exportcenter.errors import InvalidInputError


class _NamedHost(Exception):
    """Raised by the static resolver: the host is a name, to be checked when the delivery connects."""


def _static_resolver(host: str, port: int) -> list[str]:
    raise _NamedHost(host)


def _check_static_url(url: Any, what: str, allow_hosts: Sequence[str]) -> None:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(f"delivery config needs a non-empty {what!r}")
    try:
        check_url(url, allow_hosts, resolver=_static_resolver)
    except _NamedHost:
        return
    except DeliveryFailure as failure:
        raise InvalidInputError(f"delivery config {what!r}: {failure.message}") from None


def _needs_secret(config: Mapping[str, Any], key: str, method: str) -> None:
    env_name = config.get(f"{key}_env")
    if env_name is not None and (not isinstance(env_name, str) or not env_name.strip()):
        raise InvalidInputError(f"{method} delivery config {key + '_env'!r} must name an environment variable")
    if env_name is None and config.get(key) in (None, ""):
        raise InvalidInputError(f"{method} delivery needs {key!r} or {key + '_env'!r}")


def _webhook(config: Mapping[str, Any], allow_hosts: Sequence[str]) -> None:
    _check_static_url(config.get("url"), "url", allow_hosts)
    _needs_secret(config, "secret", "webhook")


def _email(config: Mapping[str, Any], allow_hosts: Sequence[str]) -> None:
    try:
        to = _recipients(config, "to")
        _recipients(config, "cc")
        _recipients(config, "bcc")
    except DeliveryFailure as failure:
        raise InvalidInputError(f"email delivery: {failure.message}") from None
    if not to:
        raise InvalidInputError("email delivery needs at least one address in 'to'")
    if str(config.get("attach", "auto")).lower() not in ("auto", "always", "never"):
        raise InvalidInputError("email delivery 'attach' must be auto, always or never")


def _s3(config: Mapping[str, Any], allow_hosts: Sequence[str]) -> None:
    bucket = config.get("bucket")
    if not isinstance(bucket, str) or not bucket.strip():
        raise InvalidInputError("s3 delivery needs a non-empty 'bucket'")
    if config.get("endpoint_url"):
        _check_static_url(config.get("endpoint_url"), "endpoint_url", allow_hosts)
    has_key = bool(config.get("access_key_id") or config.get("access_key_id_env"))
    has_secret = bool(config.get("secret_access_key") or config.get("secret_access_key_env"))
    if has_key != has_secret:
        raise InvalidInputError("s3 delivery needs both access_key_id and secret_access_key (or neither)")


def _download(config: Mapping[str, Any], allow_hosts: Sequence[str]) -> None:
    return None


_CHECKS = {"webhook": _webhook, "email": _email, "s3": _s3, "download": _download}


def validate_delivery(method: str, config: Mapping[str, Any] | None, allow_hosts: Sequence[str]) -> None:
    """Raise InvalidInputError naming what is missing or refused in a delivery request."""
    check = _CHECKS.get(method)
    if check is None:
        raise InvalidInputError(f"unknown delivery method {method!r}; use {', '.join(_CHECKS)}")
    check(dict(config or {}), allow_hosts)


__all__ = ["validate_delivery"]
