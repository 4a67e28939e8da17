#!/usr/bin/env bash
# Install Debian packages, as root or through sudo: [APT_OPTS=...] debian-install.sh <who asks> <package>...
# (the scripts that need a Debian tool call it only when the tool is missing)
set -euo pipefail
who=$1
shift
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "$who: missing; install it as root: apt-get install $*" >&2
  exit 1
fi
as_root=""
[ "$(id -u)" = 0 ] || as_root=sudo
echo "$who: installing Debian's $*" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
$as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q ${APT_OPTS:-} "$@" >/dev/null
