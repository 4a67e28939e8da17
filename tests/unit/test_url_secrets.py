"""Issue 30 item 3: a secret that stands in a URL path is URL-safe, made so, checked at start, and an old
dev secret that is not is replaced once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import PATH_SAFE, dev_secret


def test_fresh_path_secrets_are_url_safe(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    made = [dev_secret(f"s{i}", "activecampaign_webhook_secret", url_safe=True) for i in range(200)]
    assert all(PATH_SAFE.match(m) for m in made) and len(set(made)) == 200


def test_an_old_unsafe_dev_secret_is_replaced_once(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    stored = tmp_path / "consent-dev-secrets.json"
    stored.write_text(json.dumps({"activecampaign_webhook_secret": "ab/cd+ef==", "link_signing_key": "x/y+z=="}))
    new = dev_secret("consent", "activecampaign_webhook_secret", url_safe=True)
    assert PATH_SAFE.match(new) and "cannot stand in a URL path" in capsys.readouterr().err
    assert dev_secret("consent", "activecampaign_webhook_secret", url_safe=True) == new
    assert capsys.readouterr().err == "", "said once"
    assert dev_secret("consent", "link_signing_key") == "x/y+z==", "other secrets are kept as they are"


def test_a_configured_path_secret_with_a_slash_stops_the_service(monkeypatch: Any, tmp_path: Path) -> None:
    from services.consent.settings import ConsentSettings

    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CONSENT_DEV_MODE", "1")
    monkeypatch.setenv("CONSENT_ACTIVECAMPAIGN_WEBHOOK_SECRET", "abc/def")
    with pytest.raises(ValueError, match="CONSENT_ACTIVECAMPAIGN_WEBHOOK_SECRET goes into a URL path"):
        ConsentSettings()
    monkeypatch.setenv("CONSENT_ACTIVECAMPAIGN_WEBHOOK_SECRET", "abc_def-123")
    assert ConsentSettings().activecampaign_webhook_secret.get_secret_value() == "abc_def-123"  # type: ignore[union-attr]
