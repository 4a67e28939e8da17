"""ActiveCampaign webhooks: store the raw call first (AC never retries), then act on it.

`unsubscribe` withdraws the purposes mapped to its list(s); `subscribe` and `update` are recorded as what
they are (not as consent); other known types are acknowledged and logged. Never 410: that disables the hook."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import update
from sqlmodel import col, select

from services.common.db import insert_ignoring_duplicates
from services.common.errors import ServiceError
from services.common.models import table_of
from services.consent import decisions, service
from services.consent.context import ConsentContext
from services.consent.domain import Channel
from services.consent.events import ActiveCampaignNoted
from services.consent.models import WebhookDelivery

log = logging.getLogger(__name__)
NOTED = {"subscribe", "update"}
ACKNOWLEDGED = {
    "bounce",
    "click",
    "open",
    "sent",
    "sms_unsub",
    "contact_tag_added",
    "contact_tag_removed",
    "forward",
    "reply",
    "share",
    "deal_add",
    "deal_update",
    "account_add",
    "account_update",
}


@dataclass(frozen=True)
class Call:
    type: str
    email: str
    lists: list[str]
    fields: dict[str, str]
    at: datetime | None


BODIES = "activecampaign-webhook-bodies"  # what the stored bodies are sealed for (see SubjectVault)


def parse(body: bytes) -> Call:
    """ServiceError(400) with the reason when the body is not what ActiveCampaign sends."""
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ServiceError(400, f"body is not application/x-www-form-urlencoded UTF-8: {exc}") from exc
    fields = {k: v[-1] for k, v in form.items()}
    kind = fields.get("type", "").strip()
    if not kind:
        raise ServiceError(400, "field 'type' is missing")
    email = fields.get("contact[email]", "").strip()
    if kind in NOTED or kind == "unsubscribe":
        if not email:
            raise ServiceError(400, "field 'contact[email]' is missing")
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ServiceError(400, f"field 'contact[email]' is not an email address: {exc}") from exc
    lists = [
        v for k, values in form.items() for v in values if k == "list" or (k.startswith("list[") and k.endswith("[id]"))
    ]
    lists = [x for x in (v.strip() for v in lists) if x and x != "0"] or (
        [fields["list"]] if fields.get("list") else []
    )
    return Call(type=kind, email=email, lists=sorted(set(lists)), fields=fields, at=_when(fields.get("date_time")))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ServiceError(400, f"field 'date_time' is neither ISO 8601 nor 'YYYY-MM-DD HH:MM:SS': {value!r}")


async def receive(ctx: ConsentContext, body: bytes) -> tuple[int, str]:
    """Store, then process. Returns (HTTP status, message); 2xx once stored, whatever processing does.
    The same body again is a replay: it gets the answer the first delivery got, and changes nothing."""
    digest = hashlib.sha256(body).hexdigest()
    delivery_id = "ac_" + uuid.uuid4().hex
    async with ctx.rt.db.transaction() as s:
        result: Any = await s.execute(
            insert_ignoring_duplicates(
                s,
                table_of(WebhookDelivery),
                {
                    "id": delivery_id,
                    "body_hash": digest,
                    "body": ctx.rt.vault.seal_unattributed(BODIES, body),
                    "status": "received",
                    "received_at": datetime.now(UTC),
                },
            )
        )
    if not result.rowcount:
        return await _first_answer(ctx, digest)
    status, message = await _handle(ctx, delivery_id, body)
    async with ctx.rt.db.transaction() as s:
        await s.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id)
            .values(answer_status=status, answer=message)
        )
    return status, message


async def _handle(ctx: ConsentContext, delivery_id: str, body: bytes) -> tuple[int, str]:
    try:
        call = parse(body)
    except ServiceError as exc:
        await _mark(ctx, delivery_id, "rejected", exc.message, forget_body=True)
        return exc.status, exc.message
    try:
        return 200, await process(ctx, delivery_id, call)
    except Exception as exc:
        log.exception("processing ActiveCampaign delivery %s failed", delivery_id)
        await _mark(ctx, delivery_id, "failed", repr(exc)[:500])
        return 202, "stored; processing failed and will be retried"


async def _first_answer(ctx: ConsentContext, digest: str) -> tuple[int, str]:
    async with ctx.rt.db.read() as s:
        row = (await s.execute(select(WebhookDelivery).where(col(WebhookDelivery.body_hash) == digest))).scalar_one()
    if row.answer_status is None:  # the first is still being handled (or its answer was lost in a crash)
        return 202, "stored; being processed"
    return row.answer_status, row.answer or ""


async def process(ctx: ConsentContext, delivery_id: str, call: Call) -> str:
    subject = ctx.rt.recorder.pseudonym(call.email) if call.email else None
    personal: dict[str, str | None] = {
        k: v for k, v in call.fields.items() if k.startswith(("contact[", "unsubscribe[", "campaign["))
    }
    personal.update(
        {
            "initiated_by": call.fields.get("initiated_by"),
            "initiated_from": call.fields.get("initiated_from"),
            "date_time": call.fields.get("date_time"),
            "delivery": delivery_id,
        }
    )
    async with ctx.rt.db.transaction() as s:
        row = await s.get(WebhookDelivery, delivery_id)
        if row is None or row.status == "processed":
            return "already processed"
        row.event_type, row.subject, row.processed_at = call.type, subject, datetime.now(UTC)
        if call.type == "unsubscribe":
            assert subject is not None
            mapping = ctx.settings.activecampaign_list_purposes
            purposes = {p for lst in call.lists for p in mapping.get(lst, [])}
            if not purposes:
                row.status, row.error = "ignored", f"list(s) {call.lists or ['none']} not mapped to any purpose"
                log.warning("ActiveCampaign unsubscribe for unmapped list(s) %s", call.lists)
                row.body = b""
                s.add(row)
                return row.error
            reason = "activecampaign unsubscribe" + (
                f": {call.fields['unsubscribe[reason]']}" if call.fields.get("unsubscribe[reason]") else ""
            )
            done = await service.withdraw_in(ctx, s, subject, purposes, None, Channel.ACTIVECAMPAIGN, personal, reason)
            await decisions.publish_state(ctx, s, subject)
            row.status = "processed"
            message = f"withdrawn: {', '.join(sorted(d.record.purpose for d in done)) or 'nothing was given'}"
        elif call.type in NOTED:
            assert subject is not None
            await ctx.rt.recorder.record(
                s,
                ActiveCampaignNoted(
                    subject=subject,
                    webhook_type=call.type,
                    lists=call.lists,
                    initiated_by=call.fields.get("initiated_by"),
                    initiated_from=call.fields.get("initiated_from"),
                ),
                subject=subject,
                personal=personal,
            )
            row.status, message = "processed", f"{call.type} recorded (not as consent)"
        else:
            row.status = "ignored"
            message = f"type {call.type} acknowledged, nothing to do"
            if call.type not in ACKNOWLEDGED:
                log.warning("unknown ActiveCampaign webhook type %r", call.type)
                message = f"unknown type {call.type}: logged"
        row.error = None if row.status == "processed" else message
        # handled: the raw body (sealed for no one) is not kept; what it said is in the ledger, sealed for the
        # person, and goes with their key at an erasure. Only a failed delivery keeps it, to be retried.
        row.body = b""
        s.add(row)
    return message


async def _mark(ctx: ConsentContext, delivery_id: str, status: str, error: str, *, forget_body: bool = False) -> None:
    values: dict[str, object] = {"status": status, "error": error}
    if forget_body:  # refused for good: never retried, so nothing to keep it for
        values["body"] = b""
    async with ctx.rt.db.transaction() as s:
        await s.execute(update(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id).values(**values))


async def retry_failed(ctx: ConsentContext, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Process again what was stored but not processed (a crash, a database hiccup)."""
    cutoff = datetime.now(UTC) - older_than
    async with ctx.rt.db.read() as s:
        rows = (
            (
                await s.execute(
                    select(WebhookDelivery)
                    .where(col(WebhookDelivery.status).in_(["received", "failed"]))
                    .where(col(WebhookDelivery.received_at) < cutoff)
                    .limit(100)
                )
            )
            .scalars()
            .all()
        )
    done = 0
    for row in rows:
        body = ctx.rt.vault.open_unattributed(BODIES, row.body)
        try:
            await process(ctx, row.id, parse(body))
            done += 1
        except ServiceError as exc:
            await _mark(ctx, row.id, "rejected", exc.message, forget_body=True)
        except Exception as exc:  # noqa: BLE001
            await _mark(ctx, row.id, "failed", repr(exc)[:500])
    return done


async def retry_worker(ctx: ConsentContext, every: float = 30.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await retry_failed(ctx)
        except Exception:
            log.exception("webhook retry round failed")
