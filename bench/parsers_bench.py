"""Parse time of the largest real input files, against the floor of orjson.loads on the same bytes.

Run: .venv/bin/python bench/parsers_bench.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "data"
FILES = [
    "scans/grype_json_python-3.7.10-1567matches.json",
    "scans/trivy_json_juice-shop-v10.2.0.json",
    "scans/grype_json_defectdojo-1.13.1-many.json",
    "sbom/spdx23_redhat_ocp-tools-4.11-3274-packages.json",
    "sbom/cdx16_redhat_quarkus-camel-bom-1761-components.json",
    "vex/csaf_redhat_cve-2023-33201-large.json",
    "scans/grype_sarif_nginx.sarif.json",
]


def median_ms(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    when = datetime(2025, 1, 1, tzinfo=UTC)
    print(f"{'file':58} {'size':>8} {'orjson.loads':>13} {'parse_document':>15} {'ratio':>6}  records")
    for relative in FILES:
        content = (DATA / relative).read_bytes()
        floor = median_ms(lambda c=content: orjson.loads(c), repeats)
        parsed = parse_document(content, name=relative, tenant="t", ingested_at=when)
        full = median_ms(lambda c=content, r=relative: parse_document(c, name=r, tenant="t", ingested_at=when),
                         repeats)
        records = (len(parsed.findings) + len(parsed.vex_statements) + len(parsed.code_guard_findings)
                   + (len(parsed.sbom.components) if parsed.sbom else 0))
        print(f"{relative:58} {len(content) / 1e6:6.2f}MB {floor:11.1f}ms {full:13.1f}ms {full / floor:5.1f}x  {records}")


if __name__ == "__main__":
    main()
