#!/usr/bin/env bash
# Debian's wrk, the HTTP load generator the benchmarks drive (benchmarks/consent_write.py and others).
# Installs it when missing, and says so.
set -euo pipefail
if command -v wrk >/dev/null; then
  exit 0
fi
"$(dirname "$0")/debian-install.sh" wrk.sh wrk
command -v wrk >/dev/null || { echo "wrk.sh: Debian's wrk did not install" >&2; exit 1; }
echo "wrk.sh: installed $(wrk --version 2>&1 | head -1)" >&2
