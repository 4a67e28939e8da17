#!/usr/bin/env bash
# Debian's `prometheus` package for `promtool` (the tests check deploy/prometheus/ with it). Installs it
# when missing; the Prometheus server itself is not started.
set -euo pipefail
if command -v promtool >/dev/null; then
  exit 0
fi
APT_OPTS=--no-install-recommends "$(dirname "$0")/debian-install.sh" promtool.sh prometheus
# Debian starts the server it installs where a service manager runs; the tests need only promtool
if [ "$(id -u)" = 0 ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true
else sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
