"""Events that cross service boundaries: data-subject requests and every holder's answer, breaches' queries
for the people affected, and consent's report of a minor's data.

DSAR publishes `DataSubjectRequestStarted` on dsar.events.v1; every holder (our services and
external systems) answers with `HolderAnswered` on its own topic, keyed by the subject's pseudonym.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import Field

from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_EVENTS, EventData, event_type
from services.common.moments import PEOPLE_MAX


class RequestKind(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    PORTABILITY = "portability"  # GDPR 20: what the person provided, on consent or contract, to take along


class Outcome(StrEnum):
    PROVIDED = "provided"  # access: the holder's fragment is attached (sealed for the dsar service)
    ERASED = "erased"  # the holder destroyed (crypto-shredded) the subject's data
    NOTHING_HELD = "nothing_held"
    RECTIFIED = "rectified"  # the corrected data was applied
    APPLIED = "applied"  # objection: processing stopped where it applies (direct marketing; weighed otherwise)
    RESTRICTED = "restricted"  # restriction (GDPR 18): the data kept, not used, no retention clock, until lifted
    REFUSED = "refused"  # with a legal reason (GDPR 17(3), statement Art. 11.3)


@event_type
class DataSubjectRequestStarted(EventData):
    """A verified request that every holder must answer."""

    event_type = "dsar.request.started"
    topic = DSAR_EVENTS.name
    request_id: str = Field(min_length=8, max_length=64)
    kind: RequestKind
    subject: str = Field(
        description="The subject's pseudonym (HMAC-SHA256 of the normalised email).", min_length=64, max_length=64
    )
    deadline: datetime = Field(description="When the answer is due (GDPR 12(3)).")
    details: str | None = Field(
        None, description="Rectification: the corrections, sealed with `seal_fragment` for this request (base64)."
    )
    contact: str | None = Field(
        None,
        description="The person's address and language, sealed with `seal_fragment` for this request (base64): "
        "for a holder that finds the person elsewhere by it (the processors service). The ledger keeps a digest.",
    )


@event_type
class HolderAnswered(EventData):
    """A holder's answer to a data-subject request (published on the holder's own topic)."""

    event_type = "dsar.holder.answered"
    topic = None  # each holder publishes on its own topic (Recorder.record(..., topic=...))
    request_id: str = Field(min_length=8, max_length=64)
    holder: str = Field(min_length=1, max_length=100)
    kind: RequestKind
    subject: str = Field(min_length=64, max_length=64)
    outcome: Outcome
    reason: str | None = Field(None, max_length=2000, description="Legal reason, required when refused.")
    fragment: str | None = Field(
        None, description="Access: the holder's data about the subject, sealed with `seal_fragment` (base64)."
    )


@event_type
class SubjectShredded(EventData):
    """A service destroyed a subject's key: its personal data in that service is unreadable for good."""

    event_type = "subject.shredded"
    topic = None  # published on the shredding service's own topic
    subject: str = Field(min_length=64, max_length=64)
    key_id: str | None = Field(None, description="The destroyed key; None when the service held no key.")
    reason: str = Field(max_length=200)


SEALED = "s1"  # a sealed value: "s1.<key id>.<base64 of nonce and ciphertext>"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class SealingKeys:
    """The keys that seal what crosses Kafka for another of our services (access fragments, corrections,
    the people a breach touches, a reported address): SEALING_KEY, shared by the services and by nothing
    else. `key` seals, under `key_id`, which each sealed value names; `older` keys (rotated out) still open
    what they sealed; `legacy` (PSEUDONYM_KEY) opens only values sealed before key ids existed, and seals
    nothing: the pseudonym key only makes pseudonyms."""

    key_id: str
    key: bytes
    older: Mapping[str, bytes] = field(default_factory=dict)
    legacy: bytes | None = None

    def opening(self, key_id: str) -> bytes:
        key = self.key if key_id == self.key_id else self.older.get(key_id)
        if key is None:
            raise ValueError(f"sealed with key {key_id!r}, which is neither SEALING_KEY_ID nor a retired key")
        return key


def _fragment_key(key: bytes, context: str, key_id: str | None) -> AESGCM:
    """A key per value's context (a request id, a query id, a report id): what one sealed value opens with
    opens no other. `key_id` None: the derivation of values sealed before key ids (from PSEUDONYM_KEY)."""
    info = f"dsar-fragment:{context}" if key_id is None else f"sealed:{key_id}:{context}"
    return AESGCM(HKDF(SHA256(), 32, salt=None, info=info.encode()).derive(key))


def seal_fragment(keys: SealingKeys, context: str, fragment: dict[str, Any]) -> str:
    nonce = os.urandom(12)
    plain = json.dumps(fragment, default=str, ensure_ascii=False).encode()
    sealed = nonce + _fragment_key(keys.key, context, keys.key_id).encrypt(nonce, plain, None)
    return f"{SEALED}.{keys.key_id}.{base64.b64encode(sealed).decode()}"


def open_fragment(keys: SealingKeys, context: str, sealed: str) -> dict[str, Any]:
    if sealed.startswith(SEALED + "."):
        _version, key_id, blob_text = sealed.split(".", 2)
        aead = _fragment_key(keys.opening(key_id), context, key_id)
    elif keys.legacy is not None:  # sealed before key ids, with the key derived from PSEUDONYM_KEY
        blob_text, aead = sealed, _fragment_key(keys.legacy, context, None)
    else:
        raise ValueError("a value sealed before key ids, and opening those is switched off")
    blob = base64.b64decode(blob_text)
    value: dict[str, Any] = json.loads(aead.decrypt(blob[:12], blob[12:], None))
    return value


@event_type
class AffectedSubjectsRequested(EventData):
    """Breach -> every holder: who is touched by this breach, and how can we reach them? (GDPR 34)"""

    event_type = "breach.affected.requested"
    topic = BREACH_EVENTS.name
    breach_id: str
    query_id: str
    processors: list[str] = Field(default_factory=list, description="Processors involved (empty: any)")
    categories: list[str] = Field(default_factory=list, description="Data categories involved (empty: any)")
    window_start: datetime
    window_end: datetime
    reach: Literal["held", "collected"] = Field(
        "held",
        description="held: everyone whose data was held at any moment of the window and not erased since (a "
        "leak of stored data); collected: only data collected during the window (a form that leaked as it was sent)",
    )


@event_type
class AffectedSubjectsFound(EventData):
    """A holder's answer, in chunks: the people and their contact details, sealed for the breach service."""

    event_type = "breach.affected.found"
    topic = None  # on the holder's own topic
    breach_id: str
    query_id: str
    holder: str
    chunk: int = Field(ge=0, le=PEOPLE_MAX)
    chunks: int = Field(ge=1, le=PEOPLE_MAX)
    count: int = Field(ge=0, le=PEOPLE_MAX, description="People in this chunk")
    sealed: str | None = Field(None, description="seal_fragment(query_id): [{subject, email, name}]")


class ConsentDecision(EventData):
    """One decision about one purpose (consent.events.v1). Granted and withdrawn live here because other
    services act on them (the processors: unsubscribe, and subscribe after a confirmation by mail); consent's
    other decisions subclass it in services/consent/events.py."""

    topic = CONSENT_EVENTS.name
    subject: str = Field(min_length=64, max_length=64, description="HMAC-SHA256 pseudonym of the email or browser id")
    purpose: str
    third_party: str = ""
    record_id: str
    legal_basis: str
    channel: str
    categories: list[str] = Field(default_factory=list)
    notice_version: str = ""
    notice_hash: str = ""
    reason: str | None = None
    contact: str | None = Field(
        None,
        description="A withdrawal, or a grant confirmed by mail, of a purpose processors work on: the person's "
        "address sealed for the processors service (`seal_fragment`, context the record_id). The ledger keeps a "
        "digest.",
    )


@event_type
class ConsentGranted(ConsentDecision):
    """Consent given (and confirmed, where double opt-in applies)."""

    event_type = "consent.granted"


@event_type
class ConsentWithdrawn(ConsentDecision):
    """Consent withdrawn (GDPR 7(3)): takes effect at once."""

    event_type = "consent.withdrawn"


@event_type
class AnalyticsIdRecorded(EventData):
    """A Google Analytics client id (the `_ga` cookie's) that a browser which consented to analytics presented,
    under the person that browser belongs to once linked (consent.events.v1). The processors service keeps it
    to name it to Google Analytics in an erasure: an email alone cannot reach GA."""

    event_type = "consent.analytics_id.recorded"
    topic = CONSENT_EVENTS.name
    subject: str = Field(min_length=64, max_length=64, description="HMAC-SHA256 pseudonym of the email or browser id")
    record_id: str = Field(min_length=8, max_length=80, description="This recording: the sealed id's context")
    contact: str = Field(
        min_length=1,
        max_length=2000,
        description="The client id, sealed for the processors service (`seal_fragment`, context the record_id). "
        "The ledger keeps a digest.",
    )


@event_type
class MinorDataReported(EventData):
    """Someone reported data of a child under 16 without parental consent (statement Art. 3.5)."""

    # consent records it and publishes it on consent.events.v1; dsar acts on it

    event_type = "consent.minor.reported"
    topic = CONSENT_EVENTS.name
    subject: str = Field(min_length=64, max_length=64, description="HMAC-SHA256 pseudonym of the email or browser id")
    report_id: str
    contact: str | None = Field(
        None,
        description="The reported address and the page's language, sealed with `seal_fragment` for `report_id` "
        "(base64): dsar asks that address to confirm before anything is erased.",
    )
