#!/usr/bin/env bash
# Debian's `prometheus` package for `promtool` (the tests check deploy/prometheus/ with it). Installs it
# when missing; the Prometheus server itself is not started.
set -euo pipefail
if command -v promtool >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "promtool.sh: promtool is missing; install it as root: apt-get install prometheus" >&2
  exit 1
fi
as_root=""
[ "$(id -u)" = 0 ] || as_root=sudo
echo "promtool.sh: installing Debian's prometheus (for promtool)" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
$as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends prometheus >/dev/null
# Debian starts the server it installs where a service manager runs; the tests need only promtool
$as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
