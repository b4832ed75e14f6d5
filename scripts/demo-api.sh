#!/usr/bin/env bash
# The API half of `make demo` (issue 3): server, uploads, exports, events, signed downloads, sha256 checks.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python scripts/demo_api.py "${1:-demo-out}"
