#!/usr/bin/env bash
# Debian's headless Chromium for the browser tests (Playwright drives it; it never downloads a browser),
# and DejaVu fonts so that screenshots show readable text. Installs them when missing.
set -euo pipefail
if command -v chromium >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "chromium.sh: Chromium is missing; install it as root: apt-get install chromium fonts-dejavu-core" >&2
  exit 1
fi
as_root=""
[ "$(id -u)" = 0 ] || as_root=sudo
echo "chromium.sh: installing Debian's chromium and fonts-dejavu-core" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
$as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium fonts-dejavu-core >/dev/null
