#!/usr/bin/env bash
# Local PostgreSQL on 127.0.0.1:${PGPORT:-5432} for tests and production-like runs.
#   scripts/postgres.sh start   install Debian's postgresql if missing, start a server when none answers,
#                               create the role and databases the tests use
#   scripts/postgres.sh stop    stop the server this script started
# PG_DURABLE=1: the server flushes every commit to disk (fsync=on, PostgreSQL's default and what production
# runs); without it fsync is off, which keeps the test suite fast and loses nothing a test needs, but a
# machine that crashes (not a killed service: PostgreSQL itself) may lose the last commits. Give a durable
# server its own port (PGPORT=5433; its data directory then is its own too, unless PG_DATA says otherwise).
# Role/password: privacy/privacy; databases: privacy_test, privacy_consent, privacy_dsar, privacy_breach.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${PGPORT:-5432}
# The server runs as the postgres user, which may not be able to enter the checkout (e.g. under /root):
# as root, keep the data outside it.
if [ "$(id -u)" = 0 ]; then
  datadir=${PG_DATA:-/var/tmp/privacy-postgres-$port}
else
  if [ "$port" = 5432 ]; then datadir=${PG_DATA:-$root/var/postgres}; else datadir=${PG_DATA:-$root/var/postgres-$port}; fi
fi
if [ "${PG_DURABLE:-0}" = 1 ]; then fsync=on; else fsync=off; fi
log() { echo "postgres.sh: $*" >&2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ready() { pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null; }

install() {
  if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then return; fi
  log "installing Debian package postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -q postgresql >/dev/null
}

bindir() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

start() {
  install
  if ready; then
    log "a server already answers on 127.0.0.1:$port"
    if [ "$fsync" = on ] && [ "$(psql_admin -c 'show fsync')" != on ]; then
      log "PG_DURABLE=1, but that server runs with fsync off: give a durable server its own PGPORT"
      exit 1
    fi
  else
    local bin; bin=$(bindir)
    mkdir -p "$datadir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$datadir"; chmod 700 "$datadir"; fi
    if [ ! -f "$datadir/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    as_pg "$bin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=200" start >/dev/null \
      || { tail -n 30 "$datadir/server.log" >&2; exit 1; }
    log "started on 127.0.0.1:$port (data in $datadir, fsync=$fsync)"
  fi
  bootstrap
}

psql_admin() {
  # Prefer a trust login over TCP (our own server), else the distribution's socket as postgres.
  if psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAq "$@"
  else
    as_pg psql -p "$port" -d postgres -v ON_ERROR_STOP=1 -tAq "$@"
  fi
}

bootstrap() {
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname='privacy'")" != 1 ]; then
    psql_admin -c "create role privacy login password 'privacy' createdb"
  fi
  # tests and benchmarks drop their databases WITH (FORCE); an autovacuum worker busy in one is not the
  # role's own process, and without this the drop fails ("must be a member of ... pg_signal_backend")
  psql_admin -c "grant pg_signal_backend to privacy" 2>/dev/null
  for db in privacy_test privacy_consent privacy_dsar privacy_breach; do
    if [ "$(psql_admin -c "select 1 from pg_database where datname='$db'")" != 1 ]; then
      psql_admin -c "create database $db owner privacy"
    fi
  done
  log "role privacy and databases ready"
}

stop() {
  if [ -f "$datadir/postmaster.pid" ]; then
    as_pg "$(bindir)/pg_ctl" -D "$datadir" -m fast stop >/dev/null && log "stopped"
  else
    log "no server started by this script"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ready ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
