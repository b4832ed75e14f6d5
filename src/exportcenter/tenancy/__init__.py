"""Tenant settings: PDF branding and the tenant's own report template (``custom-<tenant>``), kept in the DB.

Public API (used by the API, the CLI and the gather stage):
- ``BrandingSettings``, ``get_branding(session, tenant)``, ``set_branding(session, tenant, values, actor=...)``;
- ``template_name_for(tenant)``, ``put_template(...)``, ``get_template(...)``, ``list_templates(...)``,
  ``delete_template(...)``, ``describe_template(row)``;
- ``snapshot_metadata(session, tenant)``: what the gather stage puts into a PDF snapshot's metadata.
"""

from __future__ import annotations

from exportcenter.tenancy.branding import BrandingSettings, get_branding, parse_branding, set_branding
from exportcenter.tenancy.templates import (
    delete_template,
    describe_template,
    get_template,
    list_templates,
    put_template,
    snapshot_metadata,
    template_name_for,
)

__all__ = ["BrandingSettings", "delete_template", "describe_template", "get_branding", "get_template",
           "list_templates", "parse_branding", "put_template", "set_branding", "snapshot_metadata",
           "template_name_for"]
