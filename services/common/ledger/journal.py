"""Every ledger entry also travels on Kafka (ledger.entries.v1), so that a restored database can rebuild the
entries it lost exactly, reach the published root again, and re-apply what they record.

Each flush that appends entries adds one outbox row per `CHUNK` entries, in the same transaction: the entries'
bytes as hashed (public, as the ledger's own export), and the pseudonym each entry is about, sealed with a key
only this service holds (the public entry blinds it). The record's key is the ledger's origin, so one service's
entries stay in order on one partition, and recovery reads only that partition, from a point in time."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from cryptography.exceptions import InvalidTag
from pydantic import Field

from services.common.events import LEDGER_CHECKPOINTS, LEDGER_ENTRIES, CloudEvent, EventData, EventError, event_type
from services.common.ledger.note import NoteError, NoteVerifier

log = logging.getLogger(__name__)
CHUNK = 200  # entries per record at most, and
CHUNK_BYTES = 512 * 1024  # their bytes at most (an entry with long evidence): well under the broker's 1 MiB
PURPOSE = "ledger-journal"  # the vault's key for the sealed pseudonyms (derived from this service's KEK)


@event_type
class LedgerEntriesAppended(EventData):
    """Entries `first` .. `first + len(entries) - 1` of a service's ledger, as hashed into its Merkle tree."""

    event_type = "ledger.entries.appended"
    topic = LEDGER_ENTRIES.name
    origin: str = Field(description="The ledger's checkpoint origin line.")
    first: int = Field(ge=0, le=2**63 - 1, description="The first entry's seq.")
    entries: list[str] = Field(max_length=CHUNK, description="Each entry's canonical JSON, exactly as hashed.")
    subjects: str = Field(
        description="Base64 of the pseudonyms the entries are about (a JSON list, null where none), sealed with a "
        "key only the ledger's own service holds."
    )


TYPE, SCHEMA = LedgerEntriesAppended.type_name(), LedgerEntriesAppended.schema_uri()


@dataclass(frozen=True)
class Lost:
    """An entry rebuilt from the journal: its bytes and who it is about (the table's unblinded subject)."""

    seq: int
    entry: bytes
    subject: str | None

    @property
    def parsed(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.entry)
        return value

    @property
    def event_type(self) -> str:
        """The entry's CloudEvent type, read without parsing the whole entry (the ciphertext can be long): keys
        are sorted, so the top-level "type" is the last one but "v" (data's own keys all come before it)."""
        at = self.entry.rfind(b'"type":"')
        return self.entry[at + 8 : self.entry.index(b'"', at + 8)].decode() if at >= 0 else ""


class Journal:
    """Writes a flush's entries to the outbox, and reads a ledger's entries back from Kafka."""

    def __init__(self, origin: str, vault: Any, *, source: str, topic_prefix: str = "") -> None:
        self.origin = origin
        self.vault = vault
        self.source = source
        self.topic = topic_prefix + LEDGER_ENTRIES.name
        self.checkpoints = topic_prefix + LEDGER_CHECKPOINTS.name

    def events(self, rows: list[dict[str, Any]]) -> list[tuple[str, CloudEvent]]:
        """The outbox events for appended entry rows (seq, entry, subject, ...), in chunks."""
        out = []
        for chunk in _chunks(rows):
            who = json.dumps([r["subject"] for r in chunk]).encode()
            data = {  # LedgerEntriesAppended's fields, built directly: this runs on every commit
                "origin": self.origin,
                "first": chunk[0]["seq"],
                "entries": [r["entry"].decode() for r in chunk],
                "subjects": base64.b64encode(self.vault.seal_unattributed(PURPOSE, who)).decode(),
            }
            event = CloudEvent(TYPE, self.source, data, dataschema=SCHEMA, partitionkey=self.origin)
            out.append((self.topic, event))
        return out

    def open(self, payload: LedgerEntriesAppended) -> list[Lost]:
        subjects = json.loads(self.vault.open_unattributed(PURPOSE, base64.b64decode(payload.subjects)))
        return [
            Lost(payload.first + i, entry.encode(), subject)
            for i, (entry, subject) in enumerate(zip(payload.entries, subjects, strict=True))
        ]

    async def read(self, consumer: AIOKafkaConsumer, since: datetime, after: int) -> AsyncIterator[Lost]:
        """This ledger's entries with seq >= `after`, from records written since `since` (a little before the
        last entry the database still holds), in order; duplicates (a restored outbox sends again) once."""
        seen = after
        async for event in read_keyed(consumer, self.topic, self.origin, since):
            try:
                payload = event.payload()
            except EventError:
                log.warning("journal: a record that is not ledger.entries.appended, skipped")
                continue
            if not isinstance(payload, LedgerEntriesAppended) or payload.origin != self.origin:
                continue
            if payload.first + len(payload.entries) <= seen:
                continue
            try:
                opened = self.open(payload)
            except (InvalidTag, ValueError):  # sealed by another key: another deployment's log of this origin
                log.warning(
                    "journal: entries %d.. of %s do not open with this service's key, skipped",
                    payload.first,
                    self.origin,
                )
                continue
            for lost in opened:
                if lost.seq == seen:
                    yield lost
                    seen += 1
                elif lost.seq > seen:
                    raise JournalGap(seen, lost.seq)

    async def published(self, consumer: AIOKafkaConsumer, since: datetime, vkey: str) -> tuple[int, str] | None:
        """The largest checkpoint this ledger published on ledger.checkpoints.v1 since `since` and signed with
        `vkey` (another deployment's of the same origin is not ours): (size, root base64), or None."""
        best: tuple[int, str] | None = None
        verifier = NoteVerifier(vkey)
        async for event in read_keyed(consumer, self.checkpoints, self.origin, since):
            data = event.data or {}
            if data.get("origin") != self.origin or not isinstance(data.get("size"), int):
                continue
            try:
                verifier.open(str(data.get("note")))
            except NoteError:
                continue
            if best is None or data["size"] > best[0]:
                best = (data["size"], str(data.get("root")))
        return best


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows in runs of at most CHUNK entries and CHUNK_BYTES of entry bytes (one entry alone may be more: it
    goes in a record of its own, and the outbox moves it aside if the broker refuses it)."""
    chunks: list[list[dict[str, Any]]] = []
    size = 0
    for row in rows:
        if not chunks or len(chunks[-1]) >= CHUNK or size + len(row["entry"]) > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += len(row["entry"])
    return chunks


class JournalGap(Exception):
    """The journal lacks entries: recovery cannot rebuild the ledger exactly."""

    def __init__(self, wanted: int, found: int) -> None:
        super().__init__(f"the journal on Kafka has no entries {wanted}..{found - 1}")
        self.wanted, self.found = wanted, found


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The topic's partitions as the cluster has them now ([] when there is no such topic). aiokafka's
    `partitions_for_topic` knows only topics already subscribed or assigned; this asks the cluster."""
    cluster = await consumer._client.fetch_all_metadata()
    return sorted(cluster.partitions_for_topic(topic) or ())


@contextlib.asynccontextmanager
async def reader(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group (nothing is committed) for `read_keyed`, stopped afterwards; a start that
    fails is stopped too (no client left behind)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=15000)
    try:
        await consumer.start()
        yield consumer
    finally:
        await consumer.stop()


async def read_keyed(consumer: AIOKafkaConsumer, topic: str, key: str, since: datetime) -> AsyncIterator[CloudEvent]:
    """Every CloudEvent with record key `key` on its partition of `topic`, from the first record written at or
    after `since` up to the end as it stands when the read starts."""
    ordered = await partitions_of(consumer, topic)
    if not ordered:
        return
    tp = TopicPartition(topic, DefaultPartitioner()(key.encode(), ordered, ordered))
    consumer.assign([tp])
    end = (await consumer.end_offsets([tp]))[tp]
    found = (await consumer.offsets_for_times({tp: max(0, int(since.timestamp() * 1000))}))[tp]
    if found is None:
        return  # nothing written since
    consumer.seek(tp, found.offset)
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=2000, max_records=2000)
        for record in batch.get(tp, []):
            if record.offset >= end:
                return
            if record.key != key.encode():
                continue
            try:
                yield CloudEvent.from_kafka(record.value, record.headers)
            except EventError:
                log.warning("journal: offset %d of %s is not a CloudEvent, skipped", record.offset, topic)
