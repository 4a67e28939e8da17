#!/usr/bin/env bash
# Debian's nginx, for the test that puts a real caching reverse proxy in front of the banner (proxy_cache).
# Installs it when missing; the Debian service is not left running (each test starts its own nginx).
set -euo pipefail
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
APT_OPTS=--no-install-recommends "$(dirname "$0")/debian-install.sh" nginx.sh nginx-light
if [ "$(id -u)" = 0 ]; then systemctl disable --now nginx >/dev/null 2>&1 || true
else sudo systemctl disable --now nginx >/dev/null 2>&1 || true; fi
