"""The write side every use-case shares: one event as a unit (ledger entry + outbox event), flushed in the
caller's transaction."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.crypto import Keyed, SubjectVault, pseudonym
from services.common.events import CloudEvent, EventData
from services.common.ledger.store import Ledger, LedgerRecord
from services.common.unit import Unit, flush


class Recorder:
    def __init__(
        self, *, source: str, ledger: Ledger, vault: SubjectVault, pseudonym_key: bytes, topic_prefix: str = ""
    ) -> None:
        self.source = source
        self.topic_prefix = topic_prefix
        self.ledger = ledger
        self.vault = vault
        self._pseudonym_key = Keyed(pseudonym_key)

    def pseudonym(self, email: str) -> str:
        return pseudonym(self._pseudonym_key, email)

    async def record(
        self,
        session: AsyncSession,
        payload: EventData,
        *,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
        publish: bool = True,
        topic: str | None = None,
        digest_only: tuple[str, ...] = (),
        key: str | None = None,
    ) -> tuple[CloudEvent, int]:
        """Commit `payload` to the ledger (personal data only as the subject's ciphertext) and, unless
        `publish` is False, to the outbox (on `topic`, default the payload's own topic).
        Fields named in `digest_only` are published but enter the ledger as their SHA-256 only (sealed
        data that must not outlive an erasure in an append-only log). Returns the event and its seq."""
        destination = topic or payload.topic
        if publish and not destination:
            # refused at the call: an outbox row without a topic would stop the relay behind it (issue 30)
            raise ValueError(f"{payload.event_type} has no topic of its own: record it with topic=")
        event = CloudEvent.of(payload, source=self.source, subject=subject, key=key)
        key_id = ciphertext = None
        if personal:
            if subject is None:
                raise ValueError("personal data needs a subject to encrypt it for")
            key_id, ciphertext = await self.vault.encrypt(session, subject, personal)
        data = dict(event.data or {})
        for name in digest_only:
            if data.get(name) is not None:
                data[name] = "sha256:" + hashlib.sha256(str(data[name]).encode()).hexdigest()
        unit = Unit()
        unit.append(
            LedgerRecord(
                event_id=event.id,
                event_type=event.type,
                subject=subject,
                data=data,
                key_id=key_id,
                ciphertext=ciphertext,
                time=event.time,
            )
        )
        if publish:
            assert destination is not None
            unit.publish(self.topic_prefix + destination, event)
        await flush(session, self.ledger, [unit])
        return event, unit.seqs[0]
