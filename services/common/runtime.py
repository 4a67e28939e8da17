"""One service process: database, ledger, vault, outbox relay, consumers, checkpoint schedule."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.common import registry
from services.common.auth import Credentials, create_site_key
from services.common.catalog import load_all
from services.common.consumer import EventConsumer, Handler
from services.common.contracts import SealingKeys
from services.common.crypto import SubjectVault
from services.common.db import Database
from services.common.events import CloudEvent, EventData, Topic, dead_letter_topic
from services.common.kafka import ensure_topics
from services.common.ledger import recovery
from services.common.ledger.events import CheckpointSigned
from services.common.ledger.journal import Journal
from services.common.ledger.note import NoteSigner
from services.common.ledger.store import Ledger
from services.common.ledger.witness import Witnesses, register_metrics
from services.common.mail import MailRelay, SmtpSettings
from services.common.metrics import Metrics
from services.common.outbox import OutboxRelay, enqueue
from services.common.recording import Recorder
from services.common.settings import ServiceSettings
from services.common.telemetry import Tracing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    group: str
    topics: list[str]
    # Built per runtime so handlers can close over it.
    handlers: Callable[[Runtime], dict[type[EventData], Handler]]
    # After a restore, read again from the backup's time (ledger/recovery.py: rewind): what the group makes of
    # its records is not all in this service's own ledger (the processors' tasks from dsar's requests)
    replay: bool = False


@dataclass
class Runtime:
    settings: ServiceSettings
    migrations: Path
    consumer_specs: list[ConsumerSpec] = field(default_factory=list)
    # Background loops a service adds (mail relay, retention): started with the runtime.
    workers: list[Callable[[Runtime], Any]] = field(default_factory=list)
    # The service's own collaborators (e.g. the consent context), built by the service.
    extension: Any = None
    # Called at shutdown, after the background tasks stopped (e.g. a group-commit writer).
    on_stop: list[Callable[[], Any]] = field(default_factory=list)
    # What a ledger entry rebuilt after a restore records, done again (ledger/recovery.py), by CloudEvent type
    reapply: dict[str, recovery.Reapply] = field(default_factory=dict)

    def __post_init__(self) -> None:
        load_all()
        s = self.settings
        self.name = s.service_name
        self.metrics = Metrics(self.name, enabled=s.metrics_enabled)
        self.tracing = Tracing(self.name)
        self.db = Database(s.database_url)
        self.db.tracing = self.tracing
        self.signer = NoteSigner(s.ledger_origin, s.secret_bytes("ledger_signing_key"))
        # a key of its own for blinding pseudonyms in public entries, derived from this service's ledger key
        blind_key = hmac.new(s.secret_bytes("ledger_signing_key"), b"ledger:blind-subjects", hashlib.sha256).digest()
        self.ledger = Ledger(self.signer, blind_key=blind_key)
        self.vault = SubjectVault(s.secret_bytes("key_encryption_key"))
        self.journal = Journal(
            self.signer.name, self.vault, source=f"urn:jzve:privacy:{self.name}", topic_prefix=s.kafka_topic_prefix
        )
        self.ledger.journal = self.journal.events
        # the service's handlers in its order, then common's it does not replace (recovery.py)
        self.reapply = {**self.reapply, **{k: v for k, v in recovery.COMMON_REAPPLY.items() if k not in self.reapply}}
        self.integrity = recovery.Integrity()
        self.ledger.closed = lambda: None if self.integrity.writable else f"the ledger is {self.integrity.describe()}"
        self.witnesses = Witnesses(s.ledger_witnesses)
        register_metrics(self)
        # what crosses Kafka between our services is sealed with SEALING_KEY (common/contracts.py)
        self.sealing = SealingKeys(
            s.sealing_key_id,
            s.secret_bytes("sealing_key"),
            {kid: base64.b64decode(key.get_secret_value()) for kid, key in s.sealing_keys_retired.items()},
            s.secret_bytes("pseudonym_key") if s.sealing_open_legacy else None,
        )
        self.recorder = Recorder(
            source=f"urn:jzve:privacy:{self.name}",
            ledger=self.ledger,
            vault=self.vault,
            pseudonym_key=s.secret_bytes("pseudonym_key"),
            topic_prefix=s.kafka_topic_prefix,
        )
        bootstrap = s.bootstrap_admin_token.get_secret_value() if (s.dev_mode and s.bootstrap_admin_token) else None
        self.credentials = Credentials(
            self.db, bootstrap_token=bootstrap, failed_per_minute=s.failed_credentials_per_minute
        )
        self.relay = OutboxRelay(
            self.db,
            s.kafka_bootstrap_servers,
            client_id=f"{self.name}-relay",
            poll_seconds=s.outbox_poll_seconds,
            keep=timedelta(hours=s.outbox_keep_hours),
            metrics=self.metrics,
            tracing=self.tracing,
        )
        self.consumers = [
            EventConsumer(
                self.db,
                s.kafka_bootstrap_servers,
                group=s.kafka_topic_prefix + spec.group,
                topics=[s.kafka_topic_prefix + t for t in spec.topics],
                handlers=spec.handlers(self),
                metrics=self.metrics,
                tracing=self.tracing,
            )
            for spec in self.consumer_specs
        ]
        self.mail = MailRelay(
            self.db,
            self.vault,
            SmtpSettings(
                host=s.smtp_host,
                port=s.smtp_port,
                sender=s.mail_from,
                sender_name=s.mail_from_name,
                starttls=s.smtp_starttls,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                bounce_address=s.mail_bounce_address,
            ),
            metrics=self.metrics,
        )
        self.topics_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False

    def topics(self) -> list[Topic]:
        prefix = self.settings.kafka_topic_prefix
        return [*(t.prefixed(prefix) for t in registry.topics()), *(dead_letter_topic(c.group) for c in self.consumers)]

    async def start(self) -> None:
        async with self.db.startup_lock():
            await self.db.migrate(self.migrations)
            if self.settings.dev_mode:
                await self._dev_bootstrap()
            async with self.db.read() as session:
                self.use_epoch(await recovery.epoch_of(session))
            if self.settings.ledger_check_on_start:
                await self._check_ledger()  # before a single request, and before anything that writes
            else:
                self.integrity = recovery.Integrity("sound", "")
        if self.integrity.state == "checking":
            self._spawn(self._check_ledger_until_done(), "ledger-check")
        elif self.integrity.state == "broken":
            self._spawn(recovery.watch(self), "ledger-watch")
        else:
            self.after_sound()
        if self.settings.mail_enabled:
            self._spawn(self.mail.run(), "mail")
        settle_heap()

    def after_sound(self) -> None:
        """What writes starts once the ledger is known to be whole: Kafka's relay and consumers, checkpoints,
        the witnesses and the service's own workers."""
        self._spawn(self._ensure_topics_then_run(), "kafka")
        self._spawn(self._checkpoint_schedule(), "checkpoints")
        if self.witnesses.by_url:
            self._spawn(self._witness_schedule(), "witnesses")
        for i, worker in enumerate(self.workers):
            self._spawn(worker(self), f"worker{i}")

    def use_epoch(self, epoch: int) -> None:
        """Sign under the epoch's origin (a new one after an acknowledged break, ledger/recovery.py)."""
        origin = recovery.origin_of(self.settings.ledger_origin, epoch)
        if origin != self.signer.name:
            self.signer = NoteSigner(origin, self.settings.secret_bytes("ledger_signing_key"))
            self.ledger.signer = self.signer
            self.journal.origin = origin

    async def _check_ledger(self) -> None:
        try:
            self.integrity = await recovery.check(self)
        except Exception as exc:  # noqa: BLE001 - Kafka down: reads are served, writes wait for the comparison
            log.warning("cannot compare the ledger with Kafka yet: %r", exc)
            self.integrity = recovery.Integrity(
                "checking", f"the ledger is not yet compared with Kafka, which does not answer: {exc!r}"[:300]
            )

    async def _check_ledger_until_done(self) -> None:
        while self.integrity.state == "checking":
            await asyncio.sleep(2.0)
            await self._check_ledger()
        if self.integrity.state == "broken":
            self._spawn(recovery.watch(self), "ledger-watch")
        else:
            self.after_sound()

    def _spawn(self, coro: Any, name: str) -> None:
        if self._stopping:  # a task finishing during stop() must not leave new work running
            coro.close()
            return
        task = asyncio.create_task(coro, name=f"{self.name}-{name}")
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def _ensure_topics_then_run(self) -> None:
        s = self.settings
        while True:
            try:
                await ensure_topics(
                    s.kafka_bootstrap_servers,
                    self.topics(),
                    partitions=s.kafka_topic_partitions,
                    replication=s.kafka_replication_factor,
                )
                break
            except Exception as exc:  # noqa: BLE001 - Kafka down at start: requests still work
                log.warning("cannot create topics yet: %r", exc)
                await asyncio.sleep(2.0)
        self.topics_ready.set()
        if s.relay_enabled:
            self._spawn(self.relay.run(), "relay")
        if s.consumers_enabled:
            for consumer in self.consumers:
                self._spawn(consumer.run(), f"consumer-{consumer.group}")

    async def _dev_bootstrap(self) -> None:
        s = self.settings
        if s.demo_site_key:
            await create_site_key(
                self.db,
                "demo (dev mode)",
                [
                    "http://localhost:8000",
                    "http://127.0.0.1:8000",
                    "http://localhost:3000",
                    "http://localhost:8080",
                ],
                key=s.demo_site_key,
            )

    async def checkpoint_now(self) -> bool:
        """Sign a checkpoint if the log grew, and publish it through the outbox, in one transaction. Never
        while the ledger is unchecked or broken: a checkpoint of a forked history is what must not exist."""
        if not self.integrity.writable:
            return False
        async with self.db.transaction() as session:
            cp = await self.ledger.sign_checkpoint(session)
            if cp is None:
                return False
            payload = CheckpointSigned(
                origin=self.signer.name, size=cp.size, root=base64.b64encode(cp.root).decode(), note=cp.note
            )
            event = CloudEvent.of(payload, source=self.recorder.source, key=self.signer.name)
            await enqueue(session, self.settings.kafka_topic_prefix + payload.topic, event)
        return True

    async def _checkpoint_schedule(self) -> None:
        """Every `checkpoint_interval_seconds`, and sooner after a burst of `checkpoint_burst` entries."""
        s = self.settings
        waited = 0.0
        while True:
            await asyncio.sleep(1.0)
            waited += 1.0
            try:
                async with self.db.read() as session:
                    size, _ = await self.ledger.head(session)
                    latest = await self.ledger.latest_checkpoint(session)
                behind = size - (latest.size if latest else 0)
                if behind and (waited >= s.checkpoint_interval_seconds or behind >= s.checkpoint_burst):
                    await self.checkpoint_now()
                    waited = 0.0
            except Exception:
                log.exception("checkpoint round failed")

    async def _witness_schedule(self) -> None:
        """Every second, the latest checkpoint to each witness that has not cosigned it; one that did not
        answer (or refused) is asked again every `witness_retry_seconds`."""
        s = self.settings
        asked: dict[str, float] = {}
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.witnesses.round(self, asked, s.witness_retry_seconds)
            except Exception:
                log.exception("witness round failed")

    async def stop(self) -> None:
        """Cancel every background task, including any a task spawned while stopping, then close."""
        self._stopping = True
        while self._tasks:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            _done, pending = await asyncio.wait(tasks, timeout=15)
            for task in pending:
                log.error("background task %s did not stop within 15 s", task.get_name())
        for hook in self.on_stop:
            await hook()
        await self.db.dispose()
        self.tracing.shutdown()


# Young-generation collections every GC_YOUNG allocations instead of Python's 700: a request allocates a
# few hundred objects that die young, and each collection also walks the survivors; see settle_heap.
GC_YOUNG = int(os.environ.get("PRIVACY_GC_YOUNG", "20000"))


_settled = False


def settle_heap() -> None:
    """Once per process, when the first runtime has started: move what lives for the whole process
    (modules, routes, models, SQLAlchemy metadata) out of the collector's sight (gc.freeze) and collect
    the young generation less often. Under load this was 15-20 % of a consent capture's CPU, spent
    re-walking start-up objects. (A process that starts runtimes again, as the tests do, freezes once.)"""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s crashed", task.get_name(), exc_info=task.exception())
