"""Policy sets as they are written in YAML: validated pydantic models, frozen once loaded."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exportcenter.model import FindingKind, Severity, VexStatus
from exportcenter.util import jsonio

StatusFilter = Literal["open", "closed", "all"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RuleCondition(_Strict):
    """What a finding must satisfy for a rule to match it. Every condition given must hold (AND);
    conditions left out do not filter. KEV/EPSS/CVSS conditions never match a finding whose value is
    unknown."""

    severity_at_least: Severity | None = None
    fix_available: bool | None = None
    cvss_at_least: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    kev: bool | None = None
    epss_at_least: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    epss_percentile_at_least: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    status: StatusFilter | list[VexStatus] = "open"
    kinds: list[FindingKind] | None = None
    package_deny: list[str] | None = None  # the finding's package matches one of these
    package_allow: list[str] | None = None  # the finding's package matches none of these (exempt)
    vuln_ids: list[str] | None = None

    @field_validator("package_deny", "package_allow", "vuln_ids")
    @classmethod
    def _no_empty_patterns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not item.strip() for item in value):
            raise ValueError("patterns must not be empty")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status_word_or_list(cls, value: object) -> object:
        """One clear error for a bad status instead of one per union branch."""
        allowed = ("open", "closed", "all", *(s.value for s in VexStatus))
        words = value if isinstance(value, list) else [value]
        for word in words:
            if not isinstance(word, str) or word.strip().lower() not in allowed:
                raise ValueError(f"status {word!r} must be one of {', '.join(allowed)} (or a list of VEX statuses)")
        if isinstance(value, str):
            word = value.strip().lower()
            return word if word in ("open", "closed", "all") else [word]  # a single status: "affected"
        return [w.strip().lower() for w in words if isinstance(w, str)]


class PolicyRule(_Strict):
    """One rule: the findings it matches, and the outcome when more than ``max_count`` match."""

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    name: str | None = None
    description: str | None = None
    outcome: Literal["warn", "fail"]
    message: str | None = None  # may use {count}, {max_count}, {rule}
    when: RuleCondition = Field(default_factory=RuleCondition)
    max_count: Annotated[int, Field(ge=0)] = 0

    @field_validator("message")
    @classmethod
    def _message_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(count=0, max_count=0, rule="rule")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"message may only use the placeholders {{count}}, {{max_count}} and {{rule}} ({exc!r})"
                ) from None
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id


class PolicySet(_Strict):
    """A named, ordered list of rules. ``digest`` changes whenever anything in the set changes."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    description: str | None = None
    version: str | int | None = None
    rules: Annotated[list[PolicyRule], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> PolicySet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    @property
    def digest(self) -> str:
        """sha256 of the set's canonical JSON form (what was loaded, not how the YAML was spelled)."""
        canonical = jsonio.dumps(self.model_dump(mode="json"), indent=False, sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical).hexdigest()
