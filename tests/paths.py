"""Where the bundled real data lives (a copy of ../shared/data; provenance in its SOURCES.md)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "fixtures" / "data"
SCANS = DATA / "scans"
SBOMS = DATA / "sbom"
VEX = DATA / "vex"
SCHEMAS = DATA / "schemas"
CHECK_ARTIFACTS = REPO.parent / "shared" / "tools" / "check_artifacts.py"
