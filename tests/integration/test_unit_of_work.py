"""One write path (issue 12): the same captures, written one use-case at a time (`decisions.decide`, each in
its own transaction) and all at once by the group commit's flush (`decisions.flush_captures`), leave the
same rows, ledger entries, evidence and events, field by field, apart from ids, nonces and the snapshots'
times. Run on both backends, each into a database of its own."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common.db import Tx
from services.consent import decisions
from services.consent.context import ConsentContext
from services.consent.domain import State
from tests.conftest import build_app, fresh_pg_database, running

T0 = datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/one.db", f"sqlite+aiosqlite:///{tmp_path}/many.db"
    else:
        async with fresh_pg_database() as one, fresh_pg_database() as many:
            yield one, many


def captures(ctx: ConsentContext) -> list[decisions.Item]:
    """Eight people and browsers, some more than once (a later item changes an earlier one's state)."""
    purpose = ctx.catalogue.purposes
    items = []
    for n in range(8):
        subject = f"{n:064x}"
        for round_ in range(1 + n % 3):  # one, two or three captures of the same subject
            granted = (n + round_) % 2 == 0
            chosen = [
                decisions.Decision(purpose["contact"], "", State.GRANTED, None),
                decisions.Decision(purpose["newsletter"], "", State.GRANTED if granted else State.DENIED, None),
            ]
            if n % 4 == 0:
                chosen.append(decisions.Decision(purpose["third_party_sharing"], "Partner BV", State.DENIED, "gpc"))
            items.append(
                decisions.Item(
                    subject=subject,
                    kind="browser" if n % 5 == 4 else "email",
                    channel="contact_form",
                    categories=["name", "email"],
                    notice_version="2024-05",
                    notice_hash="sha256:" + "ab" * 32,
                    personal=None if n == 3 else {"email": f"p{n}@example.nl", "ip": "203.0.113.9", "round": round_},
                    actor="staff:anna" if n == 6 else None,
                    decisions=chosen,
                    at=T0 + timedelta(seconds=n, milliseconds=round_),
                )
            )
    return items


@contextlib.asynccontextmanager
async def consent_at(make_settings: Any, url: str) -> AsyncIterator[ConsentContext]:
    app = build_app("consent", make_settings("consent", url, relay_enabled=False))
    async with running(app, form_text=False):  # decisions straight in: no capture names a notice
        yield ConsentContext.of(app.state.runtime)


async def written(ctx: ConsentContext) -> dict[str, Any]:
    """Everything the captures left, without ids, nonces and the time a snapshot was made."""
    vault = ctx.rt.vault
    async with ctx.rt.db.read() as s:
        keys = {
            row[0]: (row[1], row[2])
            for row in await s.execute(text("SELECT subject, key_id, wrapped_key FROM subject_keys"))
        }
        entries = []
        for subject, raw in await s.execute(text("SELECT subject, entry FROM ledger_entries ORDER BY seq")):
            entry = json.loads(raw)
            # public entries name nobody: every pseudonym is blinded for its entry alone (the column keeps it)
            assert subject is None or (entry["subject"].startswith("b_") and entry["subject"] != subject)
            entry["subject"] = subject
            for name in ("subject", "browser"):
                if name in entry["data"]:
                    assert entry["data"][name].startswith("b_")
                    entry["data"][name] = "<blinded>"
            sealed = entry.pop("ciphertext")
            key_id = entry.pop("key_id")
            entry["evidence"] = (
                vault.open_row(entry["subject"], key_id, keys[entry["subject"]][1], sealed) if sealed else None
            )
            assert (key_id is None) == (sealed is None)
            assert key_id is None or key_id == keys[entry["subject"]][0], "sealed with the subject's key"
            entry.pop("event_id")
            entry["data"].pop("record_id")
            if entry["data"].get("contact"):  # sealed with a nonce of its own (the ledger keeps its digest)
                entry["data"]["contact"] = "<sealed>"
            entries.append(entry)
        records = [
            {k: v for k, v in row._mapping.items() if k not in ("id", "event_id")}
            for row in await s.execute(text("SELECT * FROM consent_records ORDER BY ledger_seq"))
        ]
        states = [
            {k: v for k, v in row._mapping.items() if k != "record_id"}
            for row in await s.execute(text("SELECT * FROM consent_state ORDER BY subject, purpose, third_party"))
        ]
        subjects = [
            tuple(row)
            for row in await s.execute(text("SELECT subject, kind, person FROM consent_subjects ORDER BY subject"))
        ]
        events, latest, journal = [], {}, []
        for topic, value in await s.execute(text("SELECT topic, value FROM outbox ORDER BY id")):
            event = json.loads(value)
            if topic.endswith("ledger.entries.v1"):  # chunked per flush: what it carries is compared below
                journal.extend(json.loads(entry)["seq"] for entry in event["entries"])
            elif topic.endswith("consent.state.v1"):
                latest[event["subject"]] = event["purposes"]  # one per use-case or one per batch: the last counts
            else:
                events.append({**event, "record_id": None, **({"contact": "<sealed>"} if event.get("contact") else {})})
    return {
        "entries": entries,
        "records": records,
        "states": states,
        "subjects": subjects,
        "keys": sorted(keys),
        "events": events,
        "latest_state": latest,
        "journal": journal,  # every entry travels to Kafka once, in order, however the flushes grouped them
    }


async def test_one_by_one_and_grouped_write_the_same(make_settings: Any, two_urls: tuple[str, str]) -> None:
    one_url, many_url = two_urls
    async with consent_at(make_settings, one_url) as one, consent_at(make_settings, many_url) as many:
        items = captures(one)
        assert len(items) == 15 and len({i.subject for i in items}) == 8
        alone = []
        for item in items:  # the use-case path: a transaction each, a snapshot each
            async with one.rt.db.transaction() as s:
                alone.append(await decisions.decide(one, s, [item]))
        async with many.rt.db.unit() as tx:  # the group commit: one transaction, one flush
            grouped = await decisions.flush_captures(many, tx, items)
        assert isinstance(tx, Tx)

        answered = [[(r.ref.purpose, r.ref.state, r.ref.seq) for r in rs] for rs in alone]
        assert answered == [[(r.ref.purpose, r.ref.state, r.ref.seq) for r in rs] for rs in grouped]
        a, b = await written(one), await written(many)
    assert a["entries"] and a["records"] and a["events"]
    for part in a:
        assert a[part] == b[part], part
    states = {(s["subject"][-1], s["purpose"]): s["state"] for s in a["states"]}
    assert states[("1", "newsletter")] == "granted", "denied, then granted: the later item saw the earlier"
    history = [r["state"] for r in a["records"] if r["subject"].endswith("4") and r["purpose"] == "newsletter"]
    assert history == ["granted", "withdrawn"], "a refusal after a grant is recorded as a withdrawal"
    assert len(a["keys"]) == 7, "no key for the subject without evidence"


async def test_a_failed_flush_leaves_nothing(make_settings: Any, sqlite_url: str) -> None:
    """A unit is written whole or not at all: a failure after the flush rolls back its rows, entries and
    events, and the next flush starts from the same ledger head."""
    async with consent_at(make_settings, sqlite_url) as ctx:
        items = captures(ctx)[:3]
        with pytest.raises(RuntimeError):
            async with ctx.rt.db.transaction() as s:
                await decisions.decide(ctx, s, items)
                raise RuntimeError("after the flush")
        before = await written(ctx)
        assert not before["entries"] and not before["records"] and not before["events"] and not before["keys"]
        async with ctx.rt.db.transaction() as s:
            done = await decisions.decide(ctx, s, items)
        assert [r.ref.seq for r in done] == list(range(len(done)))
