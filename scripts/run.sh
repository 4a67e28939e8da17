#!/usr/bin/env bash
# `make run`: Kafka plus the three services on SQLite under ./var/, in dev mode. Ctrl-C stops all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$root/.venv/bin
mkdir -p var

started_kafka=0
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi

# Dev credentials: taken from the environment, else made once and kept in var/dev-credentials.env.
creds=var/dev-credentials.env
if [ ! -f "$creds" ]; then
  {
    echo "PRIVACY_ADMIN_TOKEN=${PRIVACY_ADMIN_TOKEN:-pt_dev_$($bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"
    echo "PRIVACY_SITE_KEY=${PRIVACY_SITE_KEY:-sk_demo_$($bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')}"
  } >"$creds"
  chmod 600 "$creds"
fi
# shellcheck disable=SC1090
. "$creds"
export PRIVACY_ADMIN_TOKEN=${PRIVACY_ADMIN_TOKEN} PRIVACY_SITE_KEY=${PRIVACY_SITE_KEY}

pids=()
# A local SMTP server that prints every mail (confirmation links, DSAR mails) into this output.
if [ -z "${SMTP_HOST:-}" ]; then
  "$bin/python" scripts/dev_smtp.py 127.0.0.1:1025 2>&1 | sed -u "s/^/[mail] /" &
  pids+=($!)
fi
cleanup() {
  trap - INT TERM EXIT
  echo "stopping services..." >&2
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_kafka" = 1 ]; then scripts/kafka.sh stop; fi
}
trap cleanup INT TERM EXIT

# A local stand-in for the KvK API (statement Art. 4 checks), unless a real one is configured.
kvk_port=${KVK_FAKE_PORT:-8009}
if [ -z "${CONSENT_KVK_BASE_URL:-}" ]; then
  export CONSENT_KVK_BASE_URL="http://127.0.0.1:${kvk_port}" CONSENT_KVK_API_KEY="l7xx-dev-kvk-key"
  env KVK_FAKE_API_KEY="$CONSENT_KVK_API_KEY" "$bin/uvicorn" --factory services.fakes.kvk:create \
    --host 127.0.0.1 --port "$kvk_port" --no-access-log 2>&1 | sed -u "s/^/[kvk-fake] /" &
  pids+=($!)
fi

declare -A ports=([consent]=${CONSENT_PORT:-8001} [dsar]=${DSAR_PORT:-8002} [breach]=${BREACH_PORT:-8003})
for svc in consent dsar breach; do
  up=${svc^^}
  devvar="${up}_DEV_MODE"
  env "${up}_DEV_MODE=${!devvar:-1}" \
      "${up}_PORT=${ports[$svc]}" \
      "${up}_BOOTSTRAP_ADMIN_TOKEN=$PRIVACY_ADMIN_TOKEN" \
      "${up}_DEMO_SITE_KEY=$PRIVACY_SITE_KEY" \
    "$bin/uvicorn" --factory "services.$svc.main:create" --host "${HOST:-127.0.0.1}" --port "${ports[$svc]}" \
      --no-access-log 2>&1 | sed -u "s/^/[$svc] /" &
  pids+=($!)
done

# The demo website: one script tag from consent gives it the banner, blocking and form consent.
demo_port=${DEMO_PORT:-8000}
env "DEMO_CONSENT_URL=http://127.0.0.1:${ports[consent]}" "DEMO_SITE_KEY=$PRIVACY_SITE_KEY" \
  "$bin/uvicorn" --factory services.demo.main:create --host "${HOST:-127.0.0.1}" --port "$demo_port" \
    --no-access-log 2>&1 | sed -u "s/^/[demo] /" &
pids+=($!)

for svc in consent dsar breach; do
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:${ports[$svc]}/readyz" >/dev/null 2>&1; then break; fi
    sleep 1
  done
done
cat <<INFO

  demo website (the cookie banner, a newsletter form, a chat):  http://127.0.0.1:${demo_port}/
  privacy centre (sign in by mail; the link is printed here as [mail]):  http://127.0.0.1:${ports[consent]}/privacy
  consent.js for your own site:  <script src="http://127.0.0.1:${ports[consent]}/v1/consent.js" data-site-key="$PRIVACY_SITE_KEY" defer></script>

  consent  http://127.0.0.1:${ports[consent]}/docs     (register of processing: /admin/processing-activities?format=html)
  dsar     http://127.0.0.1:${ports[dsar]}/docs
  breach   http://127.0.0.1:${ports[breach]}/docs

  KvK API (local fake unless CONSENT_KVK_BASE_URL is set):  $CONSENT_KVK_BASE_URL

  admin token (every scope, dev mode):  $PRIVACY_ADMIN_TOKEN
  demo site key (localhost origins):    $PRIVACY_SITE_KEY
  (kept in var/dev-credentials.env; Ctrl-C stops everything started here)

INFO
wait
