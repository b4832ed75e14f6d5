#!/bin/sh
# Install the system packages PDF export needs (Chromium, fonts for Latin/CJK/Arabic/Hebrew/emoji,
# poppler-utils for pdftoppm). Idempotent and quiet: installs only what is missing, and only as root
# with apt-get; otherwise prints what to install and exits 0 (other formats work without them).
set -eu
PACKAGES="chromium fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji fonts-noto-core poppler-utils"
missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "PDF export needs:$missing (install with: sudo apt-get install$missing)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "installed:$missing"
