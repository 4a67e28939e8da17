"""The checked-in event contract: JSON Schemas and the AsyncAPI document agree with the code and each other."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from services.breach.events import (
    ApNotificationPrepared,
    ApNotificationSubmitted,
    BreachRegistered,
    BreachUpdated,
    PublicCommunicationRecorded,
    RiskAssessed,
    SubjectsNotified,
)
from services.common import registry, schemagen
from services.common.catalog import load_all
from services.common.contracts import (
    AffectedSubjectsFound,
    AffectedSubjectsRequested,
    AnalyticsIdRecorded,
    DataSubjectRequestStarted,
    HolderAnswered,
    Outcome,
    RequestKind,
    SubjectShredded,
)
from services.common.events import CloudEvent, EventData
from services.common.ledger.events import CheckpointSigned
from services.common.ledger.journal import LedgerEntriesAppended
from services.common.ledger.recovery import LedgerEpochStarted
from services.consent.events import (
    ActiveCampaignNoted,
    BrowserLinked,
    ConsentDenied,
    ConsentExpired,
    ConsentGranted,
    ConsentPending,
    ConsentRestricted,
    ConsentStateSnapshot,
    ConsentWithdrawn,
    KvkChecked,
    MinorDataReported,
    ProcessingRegisterVersioned,
    SubjectRectified,
)
from services.dsar.events import (
    DsarAnswerRecorded,
    DsarIdentityVerified,
    DsarRequestCompleted,
    DsarRequestExpired,
    DsarRequestExtended,
    DsarRequestLinked,
    DsarRequestReceived,
    DsarRequestRefused,
)
from services.processors.events import ProcessorActed

SCHEMAS = Path(__file__).resolve().parent.parent.parent / "schemas"
SUBJECT = "12" * 32
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SAMPLES: list[EventData] = [
    DataSubjectRequestStarted(request_id="dsr_abcdefgh", kind=RequestKind.ERASURE, subject=SUBJECT, deadline=NOW),
    HolderAnswered(
        request_id="dsr_abcdefgh", holder="consent", kind=RequestKind.ERASURE, subject=SUBJECT, outcome=Outcome.ERASED
    ),
    SubjectShredded(subject=SUBJECT, key_id="k_1", reason="erasure request dsr_abcdefgh"),
    CheckpointSigned(origin="consent.privacy.local/ledger", size=3, root="AAAA", note="n"),
    LedgerEntriesAppended(
        origin="consent.privacy.local/ledger", first=3, entries=['{"seq":3,"v":2}'], subjects="c2VhbGVk"
    ),
    LedgerEpochStarted(
        origin="consent.privacy.local/ledger/epoch2",
        previous_origin="consent.privacy.local/ledger",
        epoch=2,
        published_size=9,
        published_root="AAAA",
        restored_size=4,
        lost=5,
        reason="checkpoint 9 was published, and the journal rebuilds the ledger only to 4",
        acknowledged_by="Fleur (dpo)",
    ),
    DsarRequestReceived(
        request_id="dsr_abcdefgh",
        kind=RequestKind.ACCESS,
        subject=SUBJECT,
        channel="letter",
        received_at=NOW,
        deadline=NOW,
    ),
    DsarAnswerRecorded(request_id="dsr_abcdefgh", holder="breach", outcome="nothing_held"),
    DsarRequestCompleted(request_id="dsr_abcdefgh", kind=RequestKind.ERASURE, subject=SUBJECT, completed_at=NOW),
    *(
        cls(
            subject=SUBJECT,
            purpose="newsletter",
            record_id="cr_1",
            legal_basis="consent",
            channel="chat",
            categories=["email"],
            notice_version="2024-01",
            notice_hash="0" * 64,
        )
        for cls in (ConsentGranted, ConsentDenied, ConsentWithdrawn, ConsentPending, ConsentExpired, ConsentRestricted)
    ),
    BrowserLinked(subject=SUBJECT, browser="34" * 32),
    AnalyticsIdRecorded(subject=SUBJECT, record_id="ga_12345678", contact="sealed-client-id"),
    MinorDataReported(subject=SUBJECT, report_id="mr_1"),
    ActiveCampaignNoted(subject=SUBJECT, webhook_type="subscribe", lists=["1"], initiated_by="public"),
    ConsentStateSnapshot(subject=SUBJECT, purposes={"newsletter": "granted"}, updated_at=NOW),
    SubjectRectified(subject=SUBJECT, request_id="dsr_abcdefgh", fields=["name"]),
    KvkChecked(subject=SUBJECT, check_id="kc_1", outcome="mismatch", mismatches=["address"], attempt=1),
    ProcessingRegisterVersioned(version=2, sha256="ab" * 32, records=10, flagged_processors=["Zapier"]),
    DsarRequestLinked(request_id="dsr_abcdefgh", subject=SUBJECT, channel="website"),
    DsarIdentityVerified(request_id="dsr_abcdefgh", subject=SUBJECT, verified_at=NOW, method="link"),
    DsarRequestExtended(request_id="dsr_abcdefgh", subject=SUBJECT, deadline=NOW, months=2),
    DsarRequestRefused(request_id="dsr_abcdefgh", subject=SUBJECT),
    DsarRequestExpired(request_id="dsr_abcdefgh", subject=SUBJECT),
    BreachRegistered(
        breach_id="brc_1",
        awareness_at=NOW,
        ap_deadline=NOW,
        nature=["confidentiality"],
        categories=["email"],
        subjects_min=1,
        subjects_max=10,
    ),
    BreachUpdated(breach_id="brc_1", fields=["measures"]),
    RiskAssessed(
        breach_id="brc_1",
        outcome="high",
        suggestion="risk",
        ap_notification_required=True,
        subject_notification_required=True,
    ),
    ApNotificationPrepared(breach_id="brc_1", notification_id="apn_1", phase="initial"),
    ApNotificationSubmitted(breach_id="brc_1", notification_id="apn_1", phase="initial", submitted_at=NOW, late=False),
    SubjectsNotified(breach_id="brc_1", queued=3),
    PublicCommunicationRecorded(breach_id="brc_1", channel="website", published_at=NOW),
    AffectedSubjectsRequested(
        breach_id="brc_1",
        query_id="aq_1",
        processors=["ActiveCampaign"],
        categories=["email"],
        window_start=NOW,
        window_end=NOW,
    ),
    AffectedSubjectsFound(breach_id="brc_1", query_id="aq_1", holder="consent", chunk=0, chunks=1, count=0),
    ProcessorActed(
        task_id="pt_1",
        request_id="dsr_12345678",
        subject="c" * 64,
        processor="activecampaign",
        action="erasure",
        state="done",
        outcome="ActiveCampaign: erasure done",
        calls=["GET /api/3/contacts 200", "DELETE /api/3/contacts/{id} 200"],
    ),
]


def test_checked_in_files_are_current() -> None:
    assert schemagen.main(["--check"]) == 0, "run `make schemas` and commit the result"


def test_every_event_type_is_on_a_channel_and_sampled() -> None:
    known = load_all()
    on_channels = {m.type_name() for models in schemagen.channels().values() for m in models}
    assert set(known) == on_channels
    assert {type(s).type_name() for s in SAMPLES} == set(known)
    assert set(schemagen.channels()) == {t.name for t in registry.topics()}


def test_asyncapi_references_resolve() -> None:
    doc = json.loads((SCHEMAS / "asyncapi.json").read_text())
    assert doc["asyncapi"].startswith("3.")
    for name, message in doc["components"]["messages"].items():
        schema = json.loads((SCHEMAS / message["payload"]["$ref"]).read_text())
        assert schema["title"] == message["name"], name
    for channel in doc["channels"].values():
        for ref in channel["messages"].values():
            assert ref["$ref"].split("/")[-1] in doc["components"]["messages"]
    for op in doc["operations"].values():
        assert op["channel"]["$ref"].split("/")[-1] in doc["channels"]
    for _service, group, topics in schemagen.consumer_groups():
        assert f"{group}.dlq" in {c["address"] for c in doc["channels"].values()}
        assert set(topics) <= {c["address"] for c in doc["channels"].values()}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).event_type)
def test_published_data_validates_against_its_schema(sample: EventData) -> None:
    schema = json.loads((SCHEMAS / schemagen.schema_file(type(sample))).read_text())
    data = CloudEvent.of(sample, source="urn:test").data
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**(data or {}), "unexpected": 1}, schema)
