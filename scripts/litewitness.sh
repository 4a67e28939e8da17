#!/usr/bin/env bash
# A local C2SP tlog-witness: litewitness (filippo.io/torchwood), built from the Go module proxy, its Ed25519
# key held by a dedicated ssh-agent (as litewitness wants it), its state in SQLite.
#   scripts/litewitness.sh build                 go install, pinned (cached in .cache/)
#   scripts/litewitness.sh start                 build, make the key once, start the agent and the witness
#   scripts/litewitness.sh serve                 the same in the foreground (a container's command)
#   scripts/litewitness.sh stop
#   scripts/litewitness.sh vkey                  the witness's verifier key (for LEDGER_WITNESSES, ledger-verify)
#   scripts/litewitness.sh add-log ORIGIN VKEY   tell it of a log (the name of VKEY must be ORIGIN)
#   scripts/litewitness.sh logs                  the logs it knows, with the size it cosigned
# Settings (environment): WITNESS_HOME (default ./var/witness), WITNESS_PORT (7380), WITNESS_NAME,
# WITNESS_LISTEN (default 127.0.0.1:$WITNESS_PORT).
# In production a witness runs outside the company's own infrastructure (README: Backups and witnesses).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${LITEWITNESS_VERSION:-v0.6.1}  # v0.6.1 builds with Go 1.26; later ones need a newer toolchain
bin=${LITEWITNESS_BIN:-$root/.cache/litewitness-$version/bin}
home=${WITNESS_HOME:-$root/var/witness}
port=${WITNESS_PORT:-7380}
name=${WITNESS_NAME:-witness.privacy.local}
listen=${WITNESS_LISTEN:-127.0.0.1:$port}
db=$home/litewitness.db
sock=$home/agent.sock

log() { echo "litewitness.sh: $*" >&2; }

build() {
  if [ -x "$bin/litewitness" ] && [ -x "$bin/witnessctl" ]; then return; fi
  log "building litewitness $version from the Go module proxy into $bin"
  mkdir -p "$bin"
  GOBIN=$bin GOFLAGS=-mod=mod GOTOOLCHAIN=local go install "filippo.io/torchwood/cmd/litewitness@$version"
  GOBIN=$bin GOFLAGS=-mod=mod GOTOOLCHAIN=local go install "filippo.io/torchwood/cmd/witnessctl@$version"
}

running() { [ -f "$home/witness.pid" ] && kill -0 "$(cat "$home/witness.pid")" 2>/dev/null; }

agent() {
  build
  mkdir -p "$home"
  if [ ! -f "$home/witness.key" ]; then
    ssh-keygen -q -t ed25519 -N "" -C "$name" -f "$home/witness.key"
  fi
  if [ -f "$home/agent.pid" ]; then kill "$(cat "$home/agent.pid")" 2>/dev/null || true; fi
  rm -f "$sock"
  ssh-agent -a "$sock" -s | sed -n 's/^SSH_AGENT_PID=\([0-9]*\).*/\1/p' >"$home/agent.pid"
  SSH_AUTH_SOCK=$sock ssh-add -q "$home/witness.key"
  fingerprint=$(ssh-keygen -l -E sha256 -f "$home/witness.key.pub" | awk '{print $2}')
}

serve() {
  agent
  exec "$bin/litewitness" -name "$name" -db "$db" -ssh-agent "$sock" -key "$fingerprint" -listen "$listen"
}

start() {
  if running; then log "already running on $listen"; return; fi
  agent
  "$bin/litewitness" -name "$name" -db "$db" -ssh-agent "$sock" -key "$fingerprint" \
    -listen "$listen" >"$home/litewitness.log" 2>&1 &
  echo $! >"$home/witness.pid"
  for _ in $(seq 1 100); do
    if grep -q 'vkey=' "$home/litewitness.log" 2>/dev/null && (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      sed -n 's/.*vkey=\([^ ]*\).*/\1/p' "$home/litewitness.log" | head -n 1 >"$home/vkey"
      log "witness $name on http://$listen/ (key $(cat "$home/vkey"))"
      return
    fi
    if ! running; then break; fi
    sleep 0.1
  done
  log "litewitness did not start:"; cat "$home/litewitness.log" >&2; exit 1
}

stop() {
  for f in witness agent; do
    if [ -f "$home/$f.pid" ]; then kill "$(cat "$home/$f.pid")" 2>/dev/null || true; rm -f "$home/$f.pid"; fi
  done
  log "stopped"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  serve) serve ;;
  stop) stop ;;
  vkey) cat "$home/vkey" ;;
  add-log)
    [ $# -eq 3 ] || { log "usage: add-log ORIGIN VKEY"; exit 2; }
    "$bin/witnessctl" add-log -db "$db" -origin "$2" 2>/dev/null || true  # known already: the key is added
    "$bin/witnessctl" add-key -db "$db" -origin "$2" -key "$3"
    ;;
  logs) "$bin/witnessctl" list-logs -db "$db" ;;
  *) echo "usage: $0 build|start|serve|stop|vkey|add-log ORIGIN VKEY|logs" >&2; exit 2 ;;
esac
