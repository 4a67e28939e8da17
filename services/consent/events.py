"""Events of the consent service on consent.events.v1 and consent.state.v1 (non-personal: pseudonyms)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.common.contracts import ConsentDecision, ConsentGranted, ConsentWithdrawn, MinorDataReported
from services.common.events import CONSENT_EVENTS, CONSENT_STATE, EventData, event_type

# cross-service events (dsar acts on a minor's report; the processors on a withdrawal and a confirmed grant):
# they live in common/contracts.py
__all__ = ["ConsentDecision", "ConsentGranted", "ConsentWithdrawn", "MinorDataReported"]

PSEUDONYM = Field(min_length=64, max_length=64, description="HMAC-SHA256 pseudonym of the email or browser id")


@event_type
class ConsentDenied(ConsentDecision):
    """Consent refused, or an objection such as Global Privacy Control."""

    event_type = "consent.denied"


@event_type
class ConsentPending(ConsentDecision):
    """Consent asked but not yet valid: waiting for the double opt-in click or a parent."""

    event_type = "consent.pending"


@event_type
class ConsentExpired(ConsentDecision):
    """The purpose's retention period is over (statement Art. 7)."""

    event_type = "consent.expired"


@event_type
class ConsentRestricted(ConsentDecision):
    """GDPR 18: processing restricted (a report of a minor's data, a request): kept, not used, until decided."""

    event_type = "consent.restricted"


@event_type
class BrowserLinked(EventData):
    """An anonymous browser's choices now belong to a person."""

    event_type = "consent.browser.linked"
    topic = CONSENT_EVENTS.name
    subject: str = PSEUDONYM
    browser: str = PSEUDONYM


@event_type
class ActiveCampaignNoted(EventData):
    """An ActiveCampaign webhook that is not a withdrawal (subscribe, update, ...), kept as what it is."""

    event_type = "consent.activecampaign.noted"
    topic = CONSENT_EVENTS.name
    subject: str = PSEUDONYM
    webhook_type: str
    lists: list[str] = Field(default_factory=list)
    initiated_by: str | None = None
    initiated_from: str | None = None


@event_type
class SubjectRectified(EventData):
    """GDPR 16: corrected data applied: what is read from now on (history, export, breach notices) shows the
    corrected values, kept sealed for the person; the ledger keeps the fact and a digest, not a value."""

    event_type = "consent.subject.rectified"
    topic = CONSENT_EVENTS.name
    subject: str = PSEUDONYM
    request_id: str
    fields: list[str]
    digest: str | None = Field(
        None, pattern="^[0-9a-f]{64}$", description="SHA-256 of the corrected values (canonical JSON)"
    )


@event_type
class KvkChecked(EventData):
    """Statement Art. 4: a KvK number was checked against the Handelsregister; the outcome only (match,
    mismatch with the fields, not found, unavailable: retried), never the register's data."""

    event_type = "consent.kvk.checked"
    topic = CONSENT_EVENTS.name
    subject: str = PSEUDONYM
    check_id: str
    receipt_id: str | None = None
    outcome: str
    mismatches: list[str] = Field(default_factory=list)
    reason: str | None = None
    attempt: int = Field(ge=1, le=10_000)
    api_version: str | None = None


@event_type
class ProcessingRegisterVersioned(EventData):
    """GDPR 30: the record of processing activities changed; its new version and SHA-256 (the content is
    served at /admin/processing-activities?at=...)."""

    event_type = "consent.register.versioned"
    topic = CONSENT_EVENTS.name
    version: int = Field(ge=1, le=2**31 - 1)
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    records: int = Field(ge=0, le=1_000_000, description="purposes in the register")
    flagged_processors: list[str] = Field(default_factory=list, description="processors without a signed agreement")


@event_type
class ConsentStateSnapshot(EventData):
    """Everything one subject currently allows: the compacted topic's value (a tombstone after erasure)."""

    event_type = "consent.state"
    topic = CONSENT_STATE.name
    subject: str = PSEUDONYM
    purposes: dict[str, str] = Field(description="purpose (or purpose:third party) -> granted, denied, ...")
    updated_at: datetime


DECISION_EVENTS: dict[str, type[ConsentDecision]] = {
    "granted": ConsentGranted,
    "denied": ConsentDenied,
    "withdrawn": ConsentWithdrawn,
    "pending_confirmation": ConsentPending,
    "pending_parent": ConsentPending,
    "expired": ConsentExpired,
    "restricted": ConsentRestricted,
}


class LookupPerformed(EventData):
    """Another system asked which of its addresses may be mailed (POST /v1/lookup): a processing of personal
    data, recorded by who asked, how many and when; the addresses themselves are not recorded. A ledger entry
    only, never published (so not in the event registry)."""

    event_type = "consent.lookup.performed"
    topic = None  # a ledger entry only
    system: str = Field(max_length=200, description="The lookup token's name: which system asked")
    addresses: int = Field(ge=0, le=1000)
    browser_ids: int = Field(ge=0, le=1000)


class WebhookRegistered(EventData):
    """A privacy officer registered or changed where consent changes are pushed (PUT /admin/webhooks/{name}).
    A ledger entry only."""

    event_type = "consent.webhook.registered"
    topic = None  # a ledger entry only
    name: str = Field(max_length=80)
    host: str = Field(max_length=300, description="The endpoint's host (the full URL stays in the database)")
    purposes: list[str] = Field(max_length=50)
    include_email: bool
    enabled: bool
    secret_rotated: bool
    by: str = Field(max_length=200)


class RestrictionLiftAnnounced(EventData):
    """GDPR 18(3): a privacy officer decided to lift a person's restriction, and the person was told when
    (the reason is in the entry's sealed evidence). A ledger entry only."""

    event_type = "consent.restriction.lift_announced"
    topic = None
    subject: str = PSEUDONYM
    lift_at: datetime
    by: str = Field(max_length=200)


class NoticeArchived(EventData):
    """GDPR 7(1): a notice text was served for the first time; its SHA-256 is what choices made on it name,
    and GET /v1/notices/{sha256} gives it back. A ledger entry only."""

    event_type = "consent.notice.archived"
    topic = None
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    version: str = Field(max_length=100)
    lang: str = Field(max_length=5)


class EvidenceRekeyed(EventData):
    """GDPR 5(1)(e): one of a person's purposes reached its retention end while others still hold. What the
    others need was sealed again under a new key, and the key that also opened the expired purpose's evidence
    was destroyed. A ledger entry only."""

    event_type = "consent.evidence.rekeyed"
    topic = None
    subject: str = PSEUDONYM
    purposes: list[str] = Field(max_length=100, description="purpose or purpose:third party keys shredded")
    destroyed_key_id: str = Field(max_length=40)
    key_id: str = Field(max_length=40, description="the person's new key")
    records_kept: int = Field(ge=0)
    rows_resealed: int = Field(ge=0)


class ObjectionWeighed(EventData):
    """GDPR 21(1): an objection to a processing on legitimate interest, weighed by a privacy officer: upheld
    (that processing stops for the person) or not, as compelling legitimate grounds override it (the person
    is told them, and their rights). The grounds are in the entry's sealed evidence. A ledger entry only."""

    event_type = "consent.objection.weighed"
    topic = None
    subject: str = PSEUDONYM
    purpose: str = Field(max_length=60)
    upheld: bool
    by: str = Field(max_length=200)
