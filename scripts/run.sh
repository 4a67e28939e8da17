#!/usr/bin/env bash
# `make run`: Kafka plus the four services on SQLite under ./var/, in dev mode. Ctrl-C stops all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$root/.venv/bin
mkdir -p var

declare -A ports=([consent]=${CONSENT_PORT:-8001} [dsar]=${DSAR_PORT:-8002} [breach]=${BREACH_PORT:-8003}
  [processors]=${PROCESSORS_PORT:-8005})
demo_port=${DEMO_PORT:-8000}
kvk_port=${KVK_FAKE_PORT:-8009}
ac_port=${ACTIVECAMPAIGN_FAKE_PORT:-8010}
tl_port=${TEAMLEADER_FAKE_PORT:-8011}
gf_port=${GRAVITYFORMS_FAKE_PORT:-8012}
ga_port=${GOOGLEANALYTICS_FAKE_PORT:-8014}

# An earlier `make run` may still be shutting down (its services finish their work, Kafka takes seconds to
# stop): wait for its ports to come free, or say which process holds one and stop.
needed=("${ports[consent]}" "${ports[dsar]}" "${ports[breach]}" "${ports[processors]}" "$demo_port" "${CONSOLE_PORT:-8004}")
[ -z "${SMTP_HOST:-}" ] && needed+=(1025)
[ -z "${CONSENT_KVK_BASE_URL:-}" ] && needed+=("$kvk_port")
[ -z "${PROCESSORS_ACTIVECAMPAIGN_BASE_URL:-}" ] && needed+=("$ac_port")
[ -z "${PROCESSORS_TEAMLEADER_BASE_URL:-}" ] && needed+=("$tl_port")
[ -z "${PROCESSORS_GRAVITYFORMS_BASE_URL:-}" ] && needed+=("$gf_port")
[ -z "${PROCESSORS_GOOGLEANALYTICS_BASE_URL:-}" ] && needed+=("$ga_port")
port_busy() { "$bin/python" -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(0)
sys.exit(1)' "$1"; }
holder() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
for port in "${needed[@]}"; do
  waited=0
  while port_busy "$port"; do
    if [ "$waited" = 0 ]; then echo "run.sh: port $port is in use; waiting up to 30 s for it to come free..." >&2; fi
    if [ "$waited" -ge 30 ]; then
      pid=$(holder "$port")
      echo "run.sh: port $port is still in use${pid:+ by pid $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-120))}." >&2
      echo "run.sh: another 'make run' is probably running: stop it (Ctrl-C in its terminal), or choose other ports" >&2
      echo "run.sh: with CONSENT_PORT, DSAR_PORT, BREACH_PORT, PROCESSORS_PORT, DEMO_PORT, KVK_FAKE_PORT and" >&2
      echo "run.sh: ACTIVECAMPAIGN_FAKE_PORT, TEAMLEADER_FAKE_PORT, GRAVITYFORMS_FAKE_PORT and" >&2
      echo "run.sh: GOOGLEANALYTICS_FAKE_PORT (WORDPRESS_PORT for the WordPress site)." >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
done

started_kafka=0
started_wordpress=0
started_witness=0
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
  "$bin/python" scripts/dev_smtp.py 127.0.0.1:1025 > >(sed -u "s/^/[mail] /") 2>&1 &
  pids+=($!)
fi
cleanup() {
  trap - INT TERM EXIT
  echo "stopping services..." >&2
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do  # each finishes what it is doing (uvicorn's graceful shutdown)
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$started_kafka" = 1 ]; then scripts/kafka.sh stop; fi
  if [ "$started_wordpress" = 1 ]; then scripts/wordpress.sh stop; fi
  if [ "$started_witness" = 1 ]; then scripts/litewitness.sh stop; fi
}
trap cleanup INT TERM EXIT

# A local stand-in for the KvK API (statement Art. 4 checks), unless a real one is configured.
if [ -z "${CONSENT_KVK_BASE_URL:-}" ]; then
  export CONSENT_KVK_BASE_URL="http://127.0.0.1:${kvk_port}" CONSENT_KVK_API_KEY="l7xx-dev-kvk-key"
  env KVK_FAKE_API_KEY="$CONSENT_KVK_API_KEY" "$bin/uvicorn" --factory services.fakes.kvk:create \
    --host 127.0.0.1 --port "$kvk_port" --no-access-log > >(sed -u "s/^/[kvk-fake] /") 2>&1 &
  pids+=($!)
fi

# A local stand-in for ActiveCampaign (API v3, its token, 5 requests per second), with a few people in it (one
# of them the demo site's newsletter subscriber), unless a real account is configured.
if [ -z "${PROCESSORS_ACTIVECAMPAIGN_BASE_URL:-}" ]; then
  export PROCESSORS_ACTIVECAMPAIGN_BASE_URL="http://127.0.0.1:${ac_port}"
  export PROCESSORS_ACTIVECAMPAIGN_API_TOKEN="dev-activecampaign-token"
  env ACTIVECAMPAIGN_FAKE_API_TOKEN="$PROCESSORS_ACTIVECAMPAIGN_API_TOKEN" "$bin/uvicorn" --factory \
    services.fakes.activecampaign:seeded --host 127.0.0.1 --port "$ac_port" --no-access-log \
    > >(sed -u "s/^/[activecampaign-fake] /") 2>&1 &
  pids+=($!)
fi

# A local stand-in for Teamleader Focus (its RPC API and OAuth2 with rotating refresh tokens), unless a real
# one is configured.
if [ -z "${PROCESSORS_TEAMLEADER_BASE_URL:-}" ]; then
  export PROCESSORS_TEAMLEADER_BASE_URL="http://127.0.0.1:${tl_port}" PROCESSORS_TEAMLEADER_CLIENT_ID="tl-client"
  export PROCESSORS_TEAMLEADER_CLIENT_SECRET="tl-dev-secret" PROCESSORS_TEAMLEADER_REFRESH_TOKEN="tl-refresh-0"
  "$bin/uvicorn" --factory services.fakes.teamleader:seeded --host 127.0.0.1 --port "$tl_port" --no-access-log \
    > >(sed -u "s/^/[teamleader-fake] /") 2>&1 &
  pids+=($!)
fi

# A local stand-in for Gravity Forms' REST API v2 (the WordPress site's form entries), unless one is configured.
if [ -z "${PROCESSORS_GRAVITYFORMS_BASE_URL:-}" ]; then
  export PROCESSORS_GRAVITYFORMS_BASE_URL="http://127.0.0.1:${gf_port}" PROCESSORS_GRAVITYFORMS_USERNAME="ck_dev"
  export PROCESSORS_GRAVITYFORMS_PASSWORD="cs_dev_fake"
  "$bin/uvicorn" --factory services.fakes.gravityforms:seeded --host 127.0.0.1 --port "$gf_port" --no-access-log \
    > >(sed -u "s/^/[gravityforms-fake] /") 2>&1 &
  pids+=($!)
fi

# A local stand-in for Google Analytics' user deletion (the Admin API and Google's token endpoint), unless a
# real property is configured.
if [ -z "${PROCESSORS_GOOGLEANALYTICS_BASE_URL:-}" ]; then
  export PROCESSORS_GOOGLEANALYTICS_BASE_URL="http://127.0.0.1:${ga_port}" PROCESSORS_GOOGLEANALYTICS_PROPERTY=123456789
  export PROCESSORS_GOOGLEANALYTICS_CLIENT_ID="ga-client.apps.example" PROCESSORS_GOOGLEANALYTICS_CLIENT_SECRET="ga-dev-secret"
  export PROCESSORS_GOOGLEANALYTICS_REFRESH_TOKEN="1//ga-dev-refresh"
  "$bin/uvicorn" --factory services.fakes.googleanalytics:create --host 127.0.0.1 --port "$ga_port" --no-access-log \
    > >(sed -u "s/^/[googleanalytics-fake] /") 2>&1 &
  pids+=($!)
fi

# A real WordPress (Debian's package, on PHP's own server and MariaDB) with a few people, unless one is
# configured; without root or sudo to install it, its tasks wait, shown as not configured.
wordpress_url="not running (scripts/wordpress.sh start needs Debian's wordpress package; root or sudo installs it)"
if [ -z "${PROCESSORS_WORDPRESS_BASE_URL:-}" ]; then
  if scripts/wordpress.sh start; then
    started_wordpress=1
    # shellcheck disable=SC1090
    . <(scripts/wordpress.sh env)
    wordpress_url="$PROCESSORS_WORDPRESS_BASE_URL/  (the site; its REST API at /wp-json/wp/v2/)"
  fi
else
  wordpress_url=$PROCESSORS_WORDPRESS_BASE_URL
fi

# The privacy contacts of the processors without an API: their instructions land in the local mail server.
for key in manychat webinarjam zapier googledrive wendykerssens promedia internetmarketingsupport; do
  var="PROCESSORS_${key^^}_CONTACT"
  export "$var=${!var:-privacy@${key}.example}"
done

# An outside witness for every ledger (C2SP tlog-witness): litewitness, built from the Go module proxy, its key
# in its own ssh-agent. Each service sends it every new checkpoint and serves its cosignature. In production
# the witness runs outside the company's own infrastructure (README: Backups, restores and witnesses).
witness_url="not running (scripts/litewitness.sh start needs Go and ssh-agent)"
if [ -z "${WITNESS_URL:-}" ]; then
  if scripts/litewitness.sh start; then
    started_witness=1
    witness_url="http://127.0.0.1:${WITNESS_PORT:-7380}/"
    wkey=$(scripts/litewitness.sh vkey)
    while IFS=$'\t' read -r svc origin vkey; do  # the witness is told of each log (again is the same)
      scripts/litewitness.sh add-log "$origin" "$vkey" >/dev/null 2>&1 || true
      export "${svc^^}_LEDGER_WITNESSES={\"$witness_url\": \"$wkey\"}"
    done < <(CONSENT_DEV_MODE=1 DSAR_DEV_MODE=1 BREACH_DEV_MODE=1 PROCESSORS_DEV_MODE=1 "$bin/privacyctl" ledger vkey)
  fi
else
  witness_url=$WITNESS_URL
fi

for svc in consent dsar breach processors; do
  up=${svc^^}
  devvar="${up}_DEV_MODE"
  env "${up}_DEV_MODE=${!devvar:-1}" \
      "${up}_PORT=${ports[$svc]}" \
      "${up}_BOOTSTRAP_ADMIN_TOKEN=$PRIVACY_ADMIN_TOKEN" \
      "${up}_DEMO_SITE_KEY=$PRIVACY_SITE_KEY" \
    "$bin/python" -m services.common.serving "$svc" --host "${HOST:-127.0.0.1}" --port "${ports[$svc]}" \
      > >(sed -u "s/^/[$svc] /") 2>&1 &
  pids+=($!)
done

# The demo website: one script tag from consent gives it the banner, blocking and form consent.
env "DEMO_CONSENT_URL=http://127.0.0.1:${ports[consent]}" "DEMO_SITE_KEY=$PRIVACY_SITE_KEY" \
  "$bin/uvicorn" --factory services.demo.main:create --host "${HOST:-127.0.0.1}" --port "$demo_port" \
    --no-access-log > >(sed -u "s/^/[demo] /") 2>&1 &
pids+=($!)

# The privacy officer's console: pages over the three services' admin APIs, signed in with a token.
console_port=${CONSOLE_PORT:-8004}
env "CONSOLE_DEV_MODE=1" "CONSOLE_CONSENT_URL=http://127.0.0.1:${ports[consent]}" \
    "CONSOLE_DSAR_URL=http://127.0.0.1:${ports[dsar]}" "CONSOLE_BREACH_URL=http://127.0.0.1:${ports[breach]}" \
    "CONSOLE_PROCESSORS_URL=http://127.0.0.1:${ports[processors]}" \
  "$bin/python" -m services.console.main --host "${HOST:-127.0.0.1}" --port "$console_port" \
    > >(sed -u "s/^/[console] /") 2>&1 &
pids+=($!)

for svc in consent dsar breach processors; do
  ready=0
  for _ in $(seq 1 90); do
    if curl -fsS "http://127.0.0.1:${ports[$svc]}/readyz" >/dev/null 2>&1; then ready=1; break; fi
    sleep 1
  done
  if [ "$ready" = 0 ]; then
    echo "run.sh: $svc is not ready after 90 s; it says:" >&2
    curl -sS "http://127.0.0.1:${ports[$svc]}/readyz" >&2 || echo "(no answer on port ${ports[$svc]})" >&2
    echo >&2
    exit 1
  fi
done
# the processors answer dsar's requests as one holder: registered once (again is the same)
curl -fsS -X PUT "http://127.0.0.1:${ports[dsar]}/admin/holders/processors" \
  -H "authorization: Bearer $PRIVACY_ADMIN_TOKEN" -H "content-type: application/json" \
  -d '{"name": "processors", "kind": "kafka", "description": "the processors of statement Art. 8"}' >/dev/null
# the URL to paste into ActiveCampaign (Settings > Developer > Webhooks); its last segment is the secret
ac_secret=$(CONSENT_DEV_MODE=1 "$bin/python" -c 'from services.common.cli import settings_for
print(settings_for("consent").activecampaign_webhook_secret.get_secret_value())')
cat <<INFO

  demo website (the cookie banner, a newsletter form, a chat):  http://127.0.0.1:${demo_port}/
  privacy centre (sign in by mail; the link is printed here as [mail]):  http://127.0.0.1:${ports[consent]}/privacy
  what everyone is told (GDPR 13/14, made from the configuration):  http://127.0.0.1:${ports[consent]}/privacy/notice
  console for the privacy officer (sign in with the admin token below):  http://127.0.0.1:${console_port}/
  consent.js for your own site:  <script src="http://127.0.0.1:${ports[consent]}/v1/consent.js" data-site-key="$PRIVACY_SITE_KEY" defer></script>

  consent  http://127.0.0.1:${ports[consent]}/docs     (register of processing: /admin/processing-activities?format=html)
  dsar     http://127.0.0.1:${ports[dsar]}/docs
  breach   http://127.0.0.1:${ports[breach]}/docs
  processors  http://127.0.0.1:${ports[processors]}/docs     (connectors: /admin/connectors)

  KvK API (local fake unless CONSENT_KVK_BASE_URL is set):  $CONSENT_KVK_BASE_URL
  ActiveCampaign (local fake unless PROCESSORS_ACTIVECAMPAIGN_BASE_URL is set):  $PROCESSORS_ACTIVECAMPAIGN_BASE_URL
    (what it holds; erase nieuwsbrief@example.nl through dsar and watch it go)
  TeamLeader (local fake unless PROCESSORS_TEAMLEADER_BASE_URL is set):  $PROCESSORS_TEAMLEADER_BASE_URL
  GravityForms (local fake unless PROCESSORS_GRAVITYFORMS_BASE_URL is set):  $PROCESSORS_GRAVITYFORMS_BASE_URL
  WordPress (a real one, Debian's, unless PROCESSORS_WORDPRESS_BASE_URL is set):  $wordpress_url
  Google Analytics user deletion (local fake unless PROCESSORS_GOOGLEANALYTICS_BASE_URL is set):  $PROCESSORS_GOOGLEANALYTICS_BASE_URL
  ledger witness (litewitness; each checkpoint with its cosignature: /ledger/checkpoint on every service):  $witness_url
  ActiveCampaign webhook URL (paste it into ActiveCampaign; in production the service's public https address):
    http://127.0.0.1:${ports[consent]}/webhooks/activecampaign/$ac_secret

  admin token (every scope, dev mode):  $PRIVACY_ADMIN_TOKEN
  demo site key (localhost origins):    $PRIVACY_SITE_KEY
  (kept in var/dev-credentials.env; Ctrl-C stops everything started here)

INFO
wait
