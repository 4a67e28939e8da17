"""Signed checkpoints, pseudonyms, per-subject encryption and settings: no I/O beyond SQLite."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest

from services.common.crypto import SubjectVault, normalise_email, pseudonym
from services.common.db import Database
from services.common.ledger.note import Checkpoint, NoteError, NoteSigner, NoteVerifier
from services.common.settings import MissingSecretError

SEED = bytes(range(32))


def test_checkpoint_note_round_trip_and_format() -> None:
    signer = NoteSigner("consent.example/ledger", SEED)
    cp = Checkpoint("consent.example/ledger", 42, bytes(32))
    note = signer.sign(cp)
    lines = note.split("\n")
    assert lines[:3] == ["consent.example/ledger", "42", base64.b64encode(bytes(32)).decode()]
    assert lines[3] == "" and lines[4].startswith("\u2014 consent.example/ledger ")
    assert NoteVerifier(signer.verifier_key).open(note) == cp
    name, key_hash, key = signer.verifier_key.split("+", 2)
    assert name == "consent.example/ledger" and len(bytes.fromhex(key_hash)) == 4
    assert base64.b64decode(key)[0] == 1 and len(base64.b64decode(key)) == 33


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda n: n.replace("\n42\n", "\n43\n"), "does not verify"),
        (lambda n: n.replace("consent.example/ledger\n", "other/ledger\n", 1), "does not verify"),
        (lambda n: n.split("\n\n")[0] + "\n", "no signature block"),
        (lambda n: n.replace("\u2014 consent.example/ledger", "\u2014 someone-else"), "no signature by"),
    ],
)
def test_tampered_note_is_refused(mutate, message) -> None:  # type: ignore[no-untyped-def]
    signer = NoteSigner("consent.example/ledger", SEED)
    note = signer.sign(Checkpoint("consent.example/ledger", 42, bytes(32)))
    with pytest.raises(NoteError, match=message):
        NoteVerifier(signer.verifier_key).open(mutate(note))


def test_note_signed_by_another_key_is_refused() -> None:
    ours = NoteSigner("log", SEED)
    theirs = NoteSigner("log", bytes(32))
    with pytest.raises(NoteError):
        NoteVerifier(ours.verifier_key).open(theirs.sign(Checkpoint("log", 1, bytes(32))))


def test_pseudonym_normalises_and_depends_on_key() -> None:
    key = b"k" * 32
    assert normalise_email("  Jan@Example.NL ") == "jan@example.nl"
    assert pseudonym(key, "Jan@Example.nl") == pseudonym(key, "jan@example.nl ")
    assert pseudonym(key, "jan@example.nl") != pseudonym(b"x" * 32, "jan@example.nl")
    assert len(pseudonym(key, "a@b.nl")) == 64


async def test_vault_encrypts_per_subject_and_shreds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.common.crypto import ShreddedError

    db = Database(f"sqlite+aiosqlite:///{tmp_path}/v.db")
    from pathlib import Path

    await db.migrate(Path("services/consent/migrations"))
    vault = SubjectVault(secrets.token_bytes(32))
    async with db.transaction() as s:
        key_id, ct = await vault.encrypt(s, "a" * 64, {"email": "jan@example.nl"})
        _, other = await vault.encrypt(s, "b" * 64, {"email": "piet@example.nl"})
    assert b"jan@example.nl" not in base64.b64decode(ct)
    async with db.transaction() as s:
        assert await vault.decrypt(s, "a" * 64, key_id, ct) == {"email": "jan@example.nl"}
        with pytest.raises(ShreddedError):  # another subject's key cannot open it
            await vault.decrypt(s, "b" * 64, key_id, ct)
        assert await vault.shred(s, "a" * 64) == key_id
        assert await vault.shred(s, "a" * 64) is None
    async with db.transaction() as s:
        with pytest.raises(ShreddedError):
            await vault.decrypt(s, "a" * 64, key_id, ct)
        assert await vault.decrypt(s, "b" * 64, (await vault.key_for(s, "b" * 64))[0], other)
    await db.dispose()


def test_missing_secret_outside_dev_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.consent.settings import ConsentSettings

    for var in ("CONSENT_DEV_MODE", "CONSENT_LEDGER_SIGNING_KEY", "CONSENT_PSEUDONYM_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(MissingSecretError, match="CONSENT_LEDGER_SIGNING_KEY"):
        ConsentSettings()


def test_dev_mode_generates_and_keeps_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.breach.settings import BreachSettings
    from services.dsar.settings import DsarSettings

    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DSAR_DEV_MODE", "1")
    monkeypatch.setenv("BREACH_DEV_MODE", "1")
    first, again = DsarSettings(), DsarSettings()
    assert first.secret_bytes("ledger_signing_key") == again.secret_bytes("ledger_signing_key")
    breach = BreachSettings()
    assert breach.secret_bytes("ledger_signing_key") != first.secret_bytes("ledger_signing_key")
    # pseudonyms must agree across services
    assert breach.secret_bytes("pseudonym_key") == first.secret_bytes("pseudonym_key")
    assert first.port == 8002 and breach.port == 8003
    assert first.database_url == f"sqlite+aiosqlite:///{tmp_path}/dsar.db"


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.consent.settings import ConsentSettings

    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CONSENT_DEV_MODE", "true")
    monkeypatch.setenv("CONSENT_PORT", "9101")
    monkeypatch.setenv("CONSENT_DATABASE_URL", "postgresql+asyncpg://u:p@db/consent")
    s = ConsentSettings()
    assert s.port == 9101 and s.is_postgres


@pytest.mark.parametrize("value", ["bounces", "@example.nl", "bounces@", "a+b@example.nl", "a@b@c.nl"])
def test_a_bounce_address_that_cannot_carry_a_mail_id_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, value: str
) -> None:
    from pydantic import ValidationError

    from services.consent.settings import ConsentSettings

    monkeypatch.setenv("PRIVACY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CONSENT_DEV_MODE", "1")
    monkeypatch.setenv("CONSENT_MAIL_BOUNCE_ADDRESS", value)
    with pytest.raises(ValidationError, match="CONSENT_MAIL_BOUNCE_ADDRESS must look like"):
        ConsentSettings()
    monkeypatch.setenv("CONSENT_MAIL_BOUNCE_ADDRESS", "")  # compose passes an empty value: not set
    assert ConsentSettings().mail_bounce_address is None
    monkeypatch.setenv("CONSENT_MAIL_BOUNCE_ADDRESS", "bounces@mail.example.nl")
    assert ConsentSettings().mail_bounce_address == "bounces@mail.example.nl"
