"""Loading policy sets from YAML: the format in docs/policy.md, and clear errors for bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.model import Severity, VexStatus
from exportcenter.policy import builtin_policy_sets, load_policy_sets, parse_policy_sets, resolve_policy_sets

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"

GOOD = """
name: release-gate
description: Gate for production releases
rules:
  - id: critical
    outcome: fail
    message: "{count} critical findings (max {max_count})"
    when:
      severity_at_least: critical
      fix_available: true
  - id: vex-under-investigation
    outcome: warn
    max_count: 5
    when:
      status: under_investigation
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_one_set_per_file_and_lists_of_sets(tmp_path: Path) -> None:
    single = _write(tmp_path, "gate.yaml", GOOD)
    multi = _write(tmp_path, "more.yml", """
policy_sets:
  - name: kev-only
    rules: [{id: kev, outcome: fail, when: {kev: true}}]
  - name: budget
    rules: [{id: medium, outcome: warn, max_count: 10, when: {severity_at_least: medium}}]
""")
    sets = load_policy_sets([single, multi])
    assert sorted(sets) == ["budget", "kev-only", "release-gate"]
    gate = sets["release-gate"]
    assert gate.rules[0].when.severity_at_least is Severity.CRITICAL and gate.rules[0].when.fix_available is True
    assert gate.rules[1].when.status == [VexStatus.UNDER_INVESTIGATION] and gate.rules[1].max_count == 5
    assert sets["budget"].rules[0].when.status == "open"  # default
    # a directory stands for its YAML files
    assert load_policy_sets([tmp_path]) == sets


def test_digest_ignores_yaml_spelling_but_not_content(tmp_path: Path) -> None:
    (a,) = parse_policy_sets(GOOD, "a.yaml")
    (b,) = parse_policy_sets("# a comment\n" + GOOD.replace('"{count} critical findings (max {max_count})"',
                                                          "'{count} critical findings (max {max_count})'"), "b.yaml")
    assert a.digest == b.digest and re.fullmatch(r"sha256:[0-9a-f]{64}", a.digest)
    (c,) = parse_policy_sets(GOOD.replace("max_count: 5", "max_count: 6"), "c.yaml")
    assert c.digest != a.digest


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (GOOD.replace("outcome: fail", "outcome: block"), "rules[0].outcome", "'warn' or 'fail'"),
        (GOOD.replace("severity_at_least: critical", "severity_at_least: huge"), "rules[0].when.severity_at_least", "critical"),
        (GOOD.replace("fix_available: true", "fix_avail: true"), "rules[0].when.fix_avail", "Extra inputs"),
        (GOOD.replace("max_count: 5", "max_count: -1"), "rules[1].max_count", "greater than or equal to 0"),
        (GOOD.replace("status: under_investigation", "status: maybe"), "rules[1].when.status", "maybe"),
        (GOOD.replace("id: vex-under-investigation", "id: critical"), "(document)", "used twice"),
        (GOOD.replace("(max {max_count})", "({total})"), "rules[0].message", "placeholders"),
        ("name: empty\nrules: []\n", "rules", "at least 1"),
        ("name: x\nrules:\n  - id: r\n    outcome: warn\n    when: {epss_at_least: 5}\n", "rules[0].when.epss_at_least", "less than or equal to 1"),
        ("rules:\n  - {id: r, outcome: warn}\n", "name", "Field required"),
    ],
)
def test_bad_fields_name_the_file_and_the_field(tmp_path: Path, text: str, field: str, reason: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(InvalidInputError) as info:
        load_policy_sets([path])
    assert str(path) in info.value.message
    assert info.value.details["field"] == field
    assert field in info.value.message and reason in info.value.message
    assert info.value.exit_code == 2


def test_bad_yaml_and_bad_shapes(tmp_path: Path) -> None:
    broken = _write(tmp_path, "broken.yaml", "name: x\nrules:\n  - id: [unclosed\n")
    with pytest.raises(InvalidInputError, match=r"broken\.yaml: not valid YAML at line \d+"):
        load_policy_sets([broken])
    scalar = _write(tmp_path, "scalar.yaml", "just text\n")
    with pytest.raises(InvalidInputError, match="must be a mapping"):
        load_policy_sets([scalar])
    listed = _write(tmp_path, "listed.yaml", "policy_sets:\n  - name: a\n    rules: [{id: r, outcome: warn}]\n  - name: b\n")
    with pytest.raises(InvalidInputError) as info:
        load_policy_sets([listed])
    assert info.value.details["field"] == "policy_sets[1].rules"
    with pytest.raises(InvalidInputError, match="policy file not found"):
        load_policy_sets([tmp_path / "missing.yaml"])


def test_duplicate_set_names_across_files(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", GOOD)
    second = _write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(InvalidInputError, match=r"b\.yaml: policy set 'release-gate' is already defined in .*a\.yaml"):
        load_policy_sets([first, second])


def test_resolve_policy_sets_defaults_and_unknown_names() -> None:
    assert [s.name for s in resolve_policy_sets([])] == ["default"]
    assert [s.name for s in resolve_policy_sets(["strict", "default"])] == ["strict", "default"]
    with pytest.raises(InvalidInputError, match=r"unknown policy set\(s\) \['nope'\]; known: \['default', 'strict'\]"):
        resolve_policy_sets(["nope"])


def test_builtin_sets_are_stable_between_loads() -> None:
    first, second = builtin_policy_sets(), builtin_policy_sets()
    assert {k: v.digest for k, v in first.items()} == {k: v.digest for k, v in second.items()}


def test_the_documented_example_loads() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/policy.md must contain a yaml example"
    for block in blocks:
        sets = parse_policy_sets(block, "docs/policy.md")
        assert sets and all(s.rules for s in sets)
