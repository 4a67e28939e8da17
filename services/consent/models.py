"""Tables of the consent service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class ConsentSubject(SQLModel, table=True):
    """A person (pseudonym of the email) or an anonymous browser (pseudonym of the browser id)."""

    __tablename__ = "consent_subjects"
    subject: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10, description="email or browser")
    person: str | None = Field(default=None, max_length=64, index=True, description="browser linked to this person")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ConsentRecord(SQLModel, table=True):
    """One decision about one purpose, with its evidence (encrypted for the subject)."""

    __tablename__ = "consent_records"
    id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=64, index=True)
    purpose: str = Field(max_length=60)
    third_party: str = Field(default="", max_length=200)
    state: str = Field(max_length=30)
    legal_basis: str = Field(max_length=30)
    channel: str = Field(max_length=30)
    categories: str = Field(sa_column=Column(Text, nullable=False), description="JSON list")
    notice_version: str = Field(max_length=100)
    notice_hash: str = Field(max_length=100)
    reason: str | None = Field(default=None, max_length=200)
    event_id: str = Field(max_length=40, description="Its ledger entry, which holds the encrypted evidence")
    ledger_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor: str | None = Field(default=None, max_length=200, description="Staff member or system that recorded it")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column(index=True))


class ConsentState(SQLModel, table=True):
    """The current decision per subject and purpose (and third party, for sharing)."""

    __tablename__ = "consent_state"
    subject: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(primary_key=True, max_length=60)
    third_party: str = Field(primary_key=True, default="", max_length=200)
    state: str = Field(max_length=30)
    record_id: str = Field(max_length=40)
    changed_at: datetime = Field(sa_column=ts_column())
    expires_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True, index=True))


class OptInToken(SQLModel, table=True):
    """A double opt-in confirmation (newsletter, or a parent's): only the token's hash is stored."""

    __tablename__ = "optin_tokens"
    token_hash: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20, description="newsletter or parent")
    record_ids: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of pending records")
    mail_id: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    expires_at: datetime = Field(sa_column=ts_column())
    used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class ProcessorEntry(SQLModel, table=True):
    """Statement Art. 8: the processors, and whether their processing agreement is in place."""

    __tablename__ = "processors"
    id: str = Field(primary_key=True, max_length=80)
    name: str = Field(max_length=200, unique=True)
    service: str = Field(max_length=200)
    agreement: str = Field(max_length=20, description="unknown, requested, signed or ended")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class WebhookDelivery(SQLModel, table=True):
    """An ActiveCampaign webhook call, stored raw (encrypted) before it is processed."""

    __tablename__ = "activecampaign_deliveries"
    id: str = Field(primary_key=True, max_length=40)
    body_hash: str = Field(max_length=64, unique=True)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False), description="AES-GCM of the raw body")
    event_type: str | None = Field(default=None, max_length=60)
    subject: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(max_length=20, description="received, processed, ignored, rejected or failed")
    error: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    processed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    answer_status: int | None = Field(default=None, description="The HTTP status the delivery was answered with")
    answer: str | None = Field(default=None, sa_column=Column(Text), description="... and the message")


class RegisterVersion(SQLModel, table=True):
    """GDPR 30: each version of the record of processing activities, as served, with its ledger entry."""

    __tablename__ = "register_versions"
    version: int = Field(primary_key=True)
    sha256: str = Field(max_length=64)
    content: str = Field(sa_column=Column(Text, nullable=False), description="canonical JSON of the register")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=ts_column(index=True))
    event_id: str = Field(max_length=40)
    ledger_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class KvkCheck(SQLModel, table=True):
    """Statement Art. 4: one check of a KvK number against the Handelsregister, and its outcome only.
    What the person entered is kept encrypted for them until the check is done (retries), then dropped."""

    __tablename__ = "kvk_checks"
    id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=64, index=True)
    receipt_id: str | None = Field(default=None, max_length=60)
    outcome: str = Field(max_length=20)
    mismatches: str = Field(default="[]", max_length=200, description="JSON list of fields")
    reason: str | None = Field(default=None, max_length=300)
    reference: str = Field(default="{}", max_length=300, description="the API's version and request reference")
    attempts: int = 1
    checked_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    next_attempt_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True, index=True))
    key_id: str | None = Field(default=None, max_length=40)
    sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RetainedEvidence(SQLModel, table=True):
    """The evidence of a record kept for a legal obligation (GDPR 17(3)(b): invoicing, the fiscal retention
    period) when its person is erased: sealed under a key of its own (`retained_key_subject`), so that the
    person's key can be destroyed while this stays readable until `until`, when the retention job destroys
    that key too."""

    __tablename__ = "retained_evidence"
    record_id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=64, index=True, description="the erased person's pseudonym")
    key_id: str = Field(max_length=40)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(max_length=200)
    until: datetime = Field(sa_column=ts_column(index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class RekeyedEvidence(SQLModel, table=True):
    """The evidence of a record whose purpose still holds, sealed again under the person's new key when the
    key that also opened an expired purpose's evidence was destroyed (`purpose_shredding`). Read instead of
    the ledger entry's ciphertext while `key_id` is the person's key; goes with it when they are erased."""

    __tablename__ = "rekeyed_evidence"
    record_id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=40)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class AnalyticsId(SQLModel, table=True):
    """A Google Analytics client id (the `_ga` cookie's) that a browser which consented to analytics presented,
    sealed for that browser: an erasure names it to Google Analytics (the processors service); nothing else
    reads it. `digest` (a keyed hash) keeps each id once per browser; gone with the browser's key."""

    __tablename__ = "analytics_ids"
    subject: str = Field(primary_key=True, max_length=64)
    digest: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(max_length=40)
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class CentreSession(SQLModel, table=True):
    """A privacy-centre session, so that signing out ends it for every copy of its cookie and on every worker.
    Only the session id's SHA-256 is kept (the cookie holds the id sealed)."""

    __tablename__ = "centre_sessions"
    sid_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    ended_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class CentreSignIn(SQLModel, table=True):
    """A privacy-centre sign-in link: only its hash is kept, with the address encrypted for the person.
    Single use: `used_at` is set when it is opened."""

    __tablename__ = "centre_sign_ins"
    token_hash: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=40)
    sealed: str = Field(sa_column=Column(Text, nullable=False), description="the address, encrypted")
    language: str = Field(default="nl", max_length=2)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    expires_at: datetime = Field(sa_column=ts_column())
    used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class PushEndpoint(SQLModel, table=True):
    """Another system told of consent changes (Standard Webhooks): its URL, the purposes it follows, and its
    signing secret sealed with the key-encryption key (the previous one signs beside it for a day)."""

    __tablename__ = "push_endpoints"
    name: str = Field(primary_key=True, max_length=80)
    url: str = Field(sa_column=Column(Text, nullable=False))
    purposes: str = Field(sa_column=Column(Text, nullable=False), description="JSON list")
    include_email: bool = False
    enabled: bool = True
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False), description="sealed whsec_ secret")
    previous_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    previous_until: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    updated_by: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class PushDelivery(SQLModel, table=True):
    """One consent change for one endpoint, written with the change (an outbox for webhooks): delivered in
    order per person and endpoint, retried with back-off, dead-lettered after WEBHOOK_RETRY_HOURS."""

    __tablename__ = "push_deliveries"
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    endpoint: str = Field(max_length=80)
    subject: str = Field(max_length=64, description="the person's pseudonym: deliveries of one are ordered")
    message_id: str = Field(max_length=40, description="webhook-id: the same on every retry")
    payload: str = Field(sa_column=Column(Text, nullable=False), description="the JSON body, without an address")
    key_id: str | None = Field(default=None, max_length=40)
    sealed_email: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True), description="the address, for an endpoint that may hold it"
    )
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_status: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    delivered_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    dead_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))

    # the relay scans only what waits, per endpoint: a partial index
    __table_args__ = (
        Index(
            "ix_push_deliveries_waiting",
            "endpoint",
            "id",
            postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL AND dead_at IS NULL"),
        ),
    )


class Restriction(SQLModel, table=True):
    """GDPR 18: a person's processing is restricted: what they had given or pending reads `restricted` (kept,
    not used), and no retention clock of theirs runs. `previous` keeps the states it replaced, so that lifting
    it (never before the person was told, 18(3): `lift_at`) gives back exactly what was there."""

    __tablename__ = "restrictions"
    subject: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=200)
    previous: str = Field(sa_column=Column(Text, nullable=False), description="JSON: state key -> state before")
    since: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    lift_told_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    lift_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True, index=True))
    lifted_by: str | None = Field(default=None, max_length=200)


class Correction(SQLModel, table=True):
    """GDPR 16: a person's corrected value of one field, sealed with their key (so an erasure takes it too).
    The evidence in the ledger stays as it was recorded; what is read from now on overlays these."""

    __tablename__ = "corrections"
    subject: str = Field(primary_key=True, max_length=64)
    field: str = Field(primary_key=True, max_length=40)
    key_id: str = Field(max_length=40)
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    request_id: str = Field(max_length=60)
    applied_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class NoticeText(SQLModel, table=True):
    """GDPR 7(1): every notice text a person was shown (the banner, its categories, the form labels), by its
    SHA-256, stored when it is first served: a recorded choice names the hash, and this says what it read."""

    __tablename__ = "notice_texts"
    sha256: str = Field(primary_key=True, max_length=64)
    version: str = Field(max_length=100)
    lang: str = Field(max_length=5)
    content: str = Field(sa_column=Column(Text, nullable=False), description="the notice as served (JSON)")
    first_served_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
