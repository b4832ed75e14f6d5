#!/usr/bin/env bash
# The main job on bundled real data: ingest real Trivy/Grype scans, SBOMs and VEX, then write every
# export type in every format into demo-out/, and print where each landed.
set -euo pipefail
cd "$(dirname "$0")/.."
EC=.venv/bin/exportcenter
OUT=${DEMO_OUT:-demo-out}
export EXPORTCENTER_HOME="$PWD/$OUT/home"
rm -rf "$OUT"
mkdir -p "$OUT"
DATA=tests/fixtures/data

echo "== ingesting real scanner, SBOM and VEX files (tests/fixtures/data, see SOURCES.md)"
$EC ingest \
  $DATA/scans/trivy_json_juice-shop-v10.2.0.json \
  $DATA/scans/trivy_json_juice-shop-v12.10.2.json \
  $DATA/scans/grype_json_defectdojo-1.13.1-many.json \
  $DATA/scans/trivy_json_misconfig-and-secrets.json \
  $DATA/sbom/cdx15_trivy-0.48.1_image-with-vulns.json \
  $DATA/vex/openvex_trivy-project.openvex.json \
  $DATA/vex/csaf_redhat_cve-2023-20862.json \
  $DATA/scans/grype_sarif_nginx.sarif.json
$EC scans

CODE_GUARD=$($EC scans --json | .venv/bin/python -c 'import json,sys; print(next(s["id"] for s in json.load(sys.stdin) if s["kind"]=="code_guard"))')
IMAGES=(--image bkimminich/juice-shop --image defectdojo/defectdojo-django)

run() {  # run NAME ARGS... : one export into $OUT/NAME
  local name=$1; shift
  if $EC export "$@" -o "$OUT/$name" --json > "$OUT/$name.json" 2> "$OUT/$name.log"; then
    printf '  %-34s -> %s\n' "$name" "$(ls "$OUT/$name" | tr '\n' ' ')"
  else
    printf '  %-34s FAILED: %s\n' "$name" "$(tail -n 1 "$OUT/$name.log")"
    FAILED=1
  fi
}
FAILED=0
echo "== exporting every type x format"
run scan_report-json         --type scan_report --format json --image bkimminich/juice-shop:v10.2.0 --include-sbom --include-remediation
run scan_report-sarif        --type scan_report --format sarif "${IMAGES[@]}"
run scan_report-pdf          --type scan_report --format pdf --image bkimminich/juice-shop:v10.2.0 --template compliance-detailed
run scan_summary-pdf         --type scan_summary --format pdf "${IMAGES[@]}" --template compliance-executive
run scan_summary-xlsx        --type scan_summary --format xlsx "${IMAGES[@]}"
run scan_summary-csv         --type scan_summary --format csv "${IMAGES[@]}"
run sbom-cyclonedx           --type sbom --format cyclonedx --image ubuntu:latest
run sbom-spdx                --type sbom --format spdx --image ubuntu:latest
run vulnerability_report-pdf  --type vulnerability_report --format pdf "${IMAGES[@]}"
run vulnerability_report-xlsx --type vulnerability_report --format xlsx "${IMAGES[@]}" --include-remediation
run vulnerability_report-csv  --type vulnerability_report --format csv "${IMAGES[@]}"
run policy_compliance-pdf    --type policy_compliance --format pdf "${IMAGES[@]}" --template audit-evidence
run policy_compliance-json   --type policy_compliance --format json "${IMAGES[@]}" --policy-set default --policy-set strict
run ai_code_guard_report-json  --type ai_code_guard_report --format json --scan "$CODE_GUARD"
run ai_code_guard_report-sarif --type ai_code_guard_report --format sarif --scan "$CODE_GUARD"
run evidence_bundle-zip      --type evidence_bundle --format zip --image bkimminich/juice-shop:v10.2.0
run evidence_bundle-tar.gz   --type evidence_bundle --format tar.gz --image bkimminich/juice-shop:v10.2.0
run audit_log-json           --type audit_log --format json --since -1d
run audit_log-csv            --type audit_log --format csv --since -1d

echo "== verifying the sealed evidence offline (public key from $EXPORTCENTER_HOME/keys/trusted)"
for bundle in "$OUT/evidence_bundle-zip/evidence.zip" "$OUT/evidence_bundle-tar.gz/evidence.tar.gz"; do
  [ -f "$bundle" ] && { $EC verify "$bundle" | head -n 1 || FAILED=1; }
done
[ -f "$OUT/audit_log-json/audit-log.json" ] && { $EC verify --audit-log "$OUT/audit_log-json/audit-log.json" || FAILED=1; }

if [ -x scripts/demo-api.sh ]; then
  echo "== the same through the REST API (server, events, signed downloads, sha256 check)"
  bash scripts/demo-api.sh "$OUT" || FAILED=1
fi
echo "== done: every export is in $PWD/$OUT/<type>-<format>/ (store: $EXPORTCENTER_HOME/blobs/exports)"
exit $FAILED
