#!/usr/bin/env bash
# Debian's headless Chromium for the browser tests (Playwright drives it; it never downloads a browser),
# and DejaVu fonts so that screenshots show readable text. Installs them when missing.
set -euo pipefail
if command -v chromium >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  exit 0
fi
"$(dirname "$0")/debian-install.sh" chromium.sh chromium fonts-dejavu-core
