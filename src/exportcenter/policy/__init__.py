"""The built-in policy engine: named policy sets of rules, loaded from YAML, evaluated per scan."""

from exportcenter.policy.engine import PackageMatcher, compile_condition, evaluate, evaluate_scans, verdict_id
from exportcenter.policy.loader import (
    builtin_policy_sets,
    load_policy_file,
    load_policy_sets,
    parse_policy_sets,
    resolve_policy_sets,
)
from exportcenter.policy.model import PolicyRule, PolicySet, RuleCondition

__all__ = [
    "PackageMatcher",
    "PolicyRule",
    "PolicySet",
    "RuleCondition",
    "builtin_policy_sets",
    "compile_condition",
    "evaluate",
    "evaluate_scans",
    "load_policy_file",
    "load_policy_sets",
    "parse_policy_sets",
    "resolve_policy_sets",
    "verdict_id",
]
