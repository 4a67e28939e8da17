"""Prometheus metrics of one service process (`GET /metrics`, text exposition format), every name prefixed
`privacy_` and labelled by `service`.

Counters move where the work happens (requests, publishes, records consumed, dead letters, mail); gauges
that describe stored state (backlogs, ledger size and checkpoint age, open requests, breach clocks) are
read from the service's own database when scraped, so they are right after a restart and cost nothing
between scrapes. A service adds its own with `Metrics.counter`/`gauge` and `on_scrape`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from services.common.operations import Figures

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
Scrape = Callable[[AsyncSession], Awaitable[None]]


class Metrics:
    # the classic text format (what generate_latest writes), which every Prometheus since 2.0 reads
    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self, service: str, *, enabled: bool = True) -> None:
        self.service = service
        self.enabled = enabled
        self.registry = CollectorRegistry()
        self._scrapes: list[Scrape] = []
        self._children: dict[tuple[Any, ...], Any] = {}
        self._ledger_seen: int | None = None
        c, g = self.counter, self.gauge
        self.http_requests = c(
            "http_requests", "HTTP requests answered, by route template and status", "method", "route", "status"
        )
        self.http_latency = Histogram(
            "privacy_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_unpublished = g("outbox_unpublished_rows", "Outbox rows not yet acknowledged by Kafka")
        self.outbox_oldest = g(
            "outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row (0: none)"
        )
        self.outbox_published = c("outbox_published_records", "Outbox rows published and acknowledged")
        self.outbox_dead_lettered = c(
            "outbox_dead_lettered", "Outbox rows the broker refused for good, moved aside (outbox_dead)"
        )
        self.outbox_dead = g("outbox_dead_rows", "Outbox rows moved aside and not yet requeued")
        self.outbox_held = g("outbox_held_rows", "Unpublished outbox rows waiting behind a dead row of their key")
        self.outbox_latency = Histogram(
            "privacy_outbox_publish_duration_seconds",
            "Time from sending an outbox batch to Kafka's acknowledgement",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.consumer_lag = g(
            "consumer_lag_records", "Records behind the partition's end", "group", "topic", "partition"
        )
        self.consumer_records = c("consumer_records", "Records handled, by outcome", "group", "outcome")
        self.dead_letters = c(
            "consumer_dead_lettered_records", "Records sent to the dead-letter topic", "group", "reason"
        )
        self.ledger_entries = g("ledger_entries", "Entries in the service's Merkle ledger")
        self.ledger_appends = c("ledger_appends", "Entries appended to the ledger since this process started")
        self.checkpoint_age = g("ledger_checkpoint_age_seconds", "Age of the latest signed checkpoint (0: none yet)")
        self.checkpoint_interval = g("ledger_checkpoint_interval_seconds", "How often a checkpoint is due")
        self.unchecked = g("ledger_unchecked_entries", "Entries appended after the latest signed checkpoint")
        self.mail = c("mail_messages", "Mail by what happened to it: sent, bounced, failed, dropped", "status")
        self.mail_queued = g("mail_queued_messages", "Mail waiting to be sent")
        self.ready = g("ready", "1 when the database and Kafka are reachable and the topics exist")

    # --- definitions ---------------------------------------------------------------------------------

    def counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(f"privacy_{name}", doc, ["service", *labels], registry=self.registry)

    def gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(f"privacy_{name}", doc, ["service", *labels], registry=self.registry)

    def on_scrape(self, scrape: Scrape) -> None:
        """`scrape(session)` sets gauges from the database before every exposition."""
        self._scrapes.append(scrape)

    def child(self, metric: Any, *labels: str) -> Any:
        """The labelled child, cached: `labels()` costs more than the increment on a hot path."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(self.service, *labels)
        return found

    def clear(self, metric: Any) -> None:
        """Drop every labelled child of `metric` (a gauge that has nothing to say is absent, not stale)."""
        metric.clear()
        self._children = {k: v for k, v in self._children.items() if k[0] != id(metric)}

    # --- hot paths -----------------------------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        if self.enabled:
            self.child(self.http_requests, method, route, str(status)).inc()
            self.child(self.http_latency, method, route).observe(seconds)

    def inc(self, metric: Any, *labels: str, amount: float = 1.0) -> None:
        if self.enabled:
            self.child(metric, *labels).inc(amount)

    # --- exposition ----------------------------------------------------------------------------------

    async def expose(self, runtime: Any, figures: Figures) -> bytes:
        """The exposition: the machinery's figures (read by the caller, services/common/operations.py), each
        service's own scrapes, the consumers' lag."""
        now = datetime.now(UTC)
        async with runtime.db.read() as s:
            for scrape in self._scrapes:
                await scrape(s)
        f = figures
        self.child(self.outbox_unpublished).set(f.backlog)
        self.child(self.outbox_oldest).set(_age(now, f.oldest_unpublished))
        self.child(self.outbox_dead).set(f.dead)
        self.child(self.outbox_held).set(f.held)
        # the first scrape only sets the starting point (and shows the counter at 0)
        self.child(self.ledger_appends).inc(max(0, f.ledger_size - (self._ledger_seen or f.ledger_size)))
        self._ledger_seen = f.ledger_size
        self.child(self.ledger_entries).set(f.ledger_size)
        self.child(self.checkpoint_age).set(_age(now, f.checkpoint_signed_at) if f.checkpoint is not None else 0)
        self.child(self.unchecked).set(f.ledger_size - (f.checkpoint.size if f.checkpoint is not None else 0))
        self.child(self.checkpoint_interval).set(runtime.settings.checkpoint_interval_seconds)
        self.child(self.mail_queued).set(f.mail["queued"])
        for status in ("sent", "bounced", "failed", "dropped"):
            self.child(self.mail, status).inc(0)  # present from the first scrape
        self.child(self.ready).set(1 if runtime.topics_ready.is_set() else 0)
        for consumer in runtime.consumers:
            for (topic, partition), lag in consumer.lag().items():
                self.child(self.consumer_lag, consumer.group, topic, str(partition)).set(lag)
        return generate_latest(self.registry)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())
