"""The environment a consent server runs with in the benchmarks: its own database and topics, fresh keys,
no rate limit, no mail, quiet logs (what consent_write.py and capture_profile.py start)."""

from __future__ import annotations

import base64
import os
import secrets

# one key per run: a process the benchmark starts (the server, a driver) finds its parent's in the environment
SITE_KEY = os.environ.get("CONSENT_DEMO_SITE_KEY") or "sk_bench_" + secrets.token_hex(6)


def b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def consent_env(database_url: str, topic_prefix: str, var_dir: str) -> dict[str, str]:
    return {
        "CONSENT_DATABASE_URL": database_url,
        "CONSENT_DEV_MODE": "1",
        "PRIVACY_VAR_DIR": var_dir,
        "CONSENT_DEMO_SITE_KEY": SITE_KEY,
        "CONSENT_KAFKA_TOPIC_PREFIX": topic_prefix,
        "CONSENT_RATE_LIMIT_PER_MINUTE": "100000000",
        "CONSENT_MAIL_ENABLED": "0",
        "CONSENT_LOG_LEVEL": "WARNING",
        "CONSENT_LEDGER_SIGNING_KEY": b64(),
        "CONSENT_PSEUDONYM_KEY": b64(),
        "CONSENT_SEALING_KEY": b64(),
        "CONSENT_KEY_ENCRYPTION_KEY": b64(),
        "CONSENT_LINK_SIGNING_KEY": b64(),
        "CONSENT_ACTIVECAMPAIGN_WEBHOOK_SECRET": secrets.token_hex(8),
    }


def served_notice_hash(port: int) -> str:
    """The hash of the notice a consent server serves (what consent.js names in a capture; a capture naming
    one never served is refused). A server that is not consent (a bare endpoint) gets any well-formed one."""
    import httpx

    r = httpx.get(f"http://127.0.0.1:{port}/v1/banner", params={"site_key": SITE_KEY, "lang": "nl"}, timeout=10)
    return str(r.json()["hash"]) if r.status_code == 200 else "a" * 64
