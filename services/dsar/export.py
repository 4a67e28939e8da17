"""The access export (GDPR 15; statement Art. 10): every holder's fragment in one JSON document and one
readable page, in Dutch or English. Its cost follows the request, not the size of the databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from services.common import words
from services.common.crypto import ShreddedError
from services.common.errors import ServiceError
from services.dsar.models import DsarRequest, HolderAnswer
from services.dsar.service import DsarContext

RIGHTS = {  # GDPR 15(1)(e), (f): every right, and where to complain
    "nl": (
        "Je kunt een toestemming altijd intrekken, met één klik in je privacycentrum. Je kunt je gegevens inzien, "
        "laten corrigeren of laten verwijderen, de verwerking laten beperken, bezwaar maken (tegen direct marketing "
        "altijd), en gegevens die je ons zelf gaf meenemen naar een ander (overdraagbaarheid). Een klacht kun je "
        "indienen bij de Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl), en je kunt naar de rechter "
        "stappen. Er vindt geen geautomatiseerde besluitvorming over je plaats (privacyverklaring art. 6)."
    ),
    "en": (
        "You can withdraw a consent at any time, with one click in your privacy centre. You can see your data, have "
        "it corrected or erased, restrict its processing, object (to direct marketing always), and take the data "
        "you gave us to someone else (portability). You may complain to the Dutch Data Protection Authority "
        "(autoriteitpersoonsgegevens.nl) and go to court. No automated decisions are made about you (statement "
        "Art. 6)."
    ),
}
CONTROLLER = "Je zaak voor Elkaar B.V., Ambachtweg 12, 2841 LZ Moordrecht, team@jezaakvoorelkaar.nl"


async def compile_export(ctx: DsarContext, request_id: str) -> dict[str, Any]:
    async with ctx.rt.db.read() as s:
        request = await s.get(DsarRequest, request_id)
        if request is None or request.kind not in ("access", "portability") or request.state != "completed":
            raise ServiceError(404, "no export for this link")
        answers = (
            (
                await s.execute(
                    select(HolderAnswer)
                    .where(col(HolderAnswer.request_id) == request_id)
                    .order_by(col(HolderAnswer.holder))
                )
            )
            .scalars()
            .all()
        )
        holders: dict[str, Any] = {}
        for a in answers:
            data: Any = None
            if a.fragment and a.key_id:
                try:
                    data = await ctx.rt.vault.decrypt(s, request.subject, a.key_id, a.fragment)
                except ShreddedError:
                    data = "erased since"
            holders[a.holder] = {"outcome": a.outcome, "answered_at": a.answered_at, "reason": a.reason, "data": data}
        mine = (
            await s.execute(
                select(DsarRequest)
                .where(col(DsarRequest.subject) == request.subject)
                .order_by(col(DsarRequest.received_at))
            )
        ).scalars()
        requests = [
            {
                "kind": r.kind,
                "state": r.state,
                "channel": r.channel,
                "received_at": r.received_at,
                "verified_at": r.verified_at,
                "deadline": r.deadline,
                "completed_at": r.completed_at,
            }
            for r in mine
        ]
    return {
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at,
            "verified_at": request.verified_at,
            "completed_at": request.completed_at,
        },
        "controller": CONTROLLER,
        "requests": requests,
        "holders": holders,
        "rights": RIGHTS,
        "generated_at": datetime.now(UTC),
    }


def readable(export: dict[str, Any], language: str) -> dict[str, Any]:
    """The export as a person reads it: sections by what they hold, purposes by their description, states
    and channels in words, evidence as sentences (the template adds dates in Europe/Amsterdam)."""
    lang = words.language(language)
    holders = export["holders"]
    consent = holders.get("consent", {}).get("data")
    consent = consent if isinstance(consent, dict) else {}
    purposes = consent.get("purposes", {})

    def name(purpose_id: str) -> str:
        p = purposes.get(purpose_id) or {}
        return str(p.get(f"description_{lang}") or purpose_id.replace("_", " "))

    consents = []
    for key, state in sorted(consent.get("states", {}).items()):
        browser, _, rest = key.partition("browser:") if key.startswith("browser:") else ("", "", key)
        purpose_id, _, third_party = rest.partition(":")
        p = purposes.get(purpose_id) or {}
        consents.append(
            {
                "name": name(purpose_id),
                "third_party": third_party or None,
                "browser": bool(browser or key.startswith("browser:")),
                "state": state,
                "basis": p.get("legal_basis"),
                "retention_days": p.get("retention_days"),
                "retention": (p.get("retention") or {}).get(lang),
                "categories": p.get("categories", []),
                "recipients": p.get("recipients", []),
            }
        )
    history = [
        {
            "at": r["recorded_at"],
            "name": name(r["purpose"]),
            "third_party": r.get("third_party"),
            "state": r["state"],
            "basis": (purposes.get(r["purpose"]) or {}).get("legal_basis") or r.get("legal_basis"),
            "channel": r["channel"],
            "browser": r.get("browser", False),
            "reason": r.get("reason"),
            "evidence": words.evidence(r.get("evidence"), lang),
        }
        for r in consent.get("records", [])
    ]
    breach = holders.get("breach", {}).get("data")
    # GDPR 15: say only what the breach register answered; no answer is no statement that none involved you
    breach_answered = holders.get("breach", {}).get("outcome") in ("provided", "nothing_held")
    own = ("consent", "breach", "processors")
    others = {h: a for h, a in holders.items() if h not in own and isinstance(a.get("data"), dict)}
    at_processors = holders.get("processors", {}).get("data")
    return {
        "lang": lang,
        "export": export,
        "consents": consents,
        "history": history,
        "recipients": consent.get("recipients", []),
        "requests": export.get("requests", []),
        "breaches": breach.get("notifications", []) if isinstance(breach, dict) else [],
        "breach_answered": breach_answered,
        "sources": consent.get("sources", []),
        "answers": [(h, a) for h, a in holders.items()],
        "others": others,
        # issue 32: what each processor holds, in its own fields (named in words), or why nothing is shown
        "processors": [
            {**p, "data": [_in_words(part, lang) for part in p.get("data") or []]}
            for p in (at_processors.get("processors", []) if isinstance(at_processors, dict) else [])
        ],
        "processors_answered": "processors" in holders,
        "processor_states": PROCESSOR_STATES,
        "rights": export["rights"][lang],
    }


PROCESSOR_STATES = {  # a processor's outcome, as the person reads it (nl, en)
    "done": ("gedaan", "done"),
    "nothing_held": ("heeft niets van jou", "holds nothing of you"),
    "exempt": ("niet gedaan, met een wettelijke grond", "not done, on a legal ground"),
    "no_api": ("niet via hun systeem te vragen", "cannot be asked through their system"),
    "failed": ("weigerde ons verzoek", "refused our request"),
    "confirmed": ("bevestigd door de verwerker", "confirmed by the processor"),
    "refused": ("geweigerd door de verwerker", "refused by the processor"),
    "submitted": ("ingediend, de verwerker voert het later uit", "submitted, carried out later"),
    "unidentified": ("niet te vragen: we kennen geen id van jou daar", "cannot be asked: we know no id of you there"),
    "not_asked": ("nog niet gevraagd", "not asked yet"),
}
FIELDS = {  # a processor's own field names, as a person reads them (unknown ones shown with spaces)
    "nl": {
        "email": "e-mailadres",
        "emails": "e-mailadressen",
        "firstName": "voornaam",
        "first_name": "voornaam",
        "lastName": "achternaam",
        "last_name": "achternaam",
        "phone": "telefoon",
        "telephones": "telefoonnummers",
        "cdate": "aangemaakt",
        "added_at": "aangemaakt",
        "udate": "laatst gewijzigd",
        "updated_at": "laatst gewijzigd",
        "sdate": "ingeschreven op",
        "list": "lijst",
        "status": "stand",
        "text": "wat zij ons schreven",
        "form_id": "formulier",
        "date_created": "ingevuld op",
        "source_url": "op de pagina",
        "ip": "internetadres (IP)",
        "id": "nummer",
        "username": "gebruikersnaam",
        "name": "naam",
        "url": "website",
        "description": "over jezelf",
        "registered_date": "account aangemaakt",
        "author_name": "naam",
        "author_email": "e-mailadres",
        "author_url": "website",
        "author_ip": "internetadres (IP)",
        "author_user_agent": "browser",
        "date": "geschreven op",
        "content": "wat je schreef",
        "message": "je bericht",
        "is_starred": "met een ster gemarkeerd",
        "is_read": "gelezen",
        "currency": "valuta",
        "created_by": "ingevoerd door",
        "user_agent": "browser",
        "date_updated": "laatst gewijzigd",
        "link": "te zien op",
    },
    "en": {
        "firstName": "first name",
        "lastName": "last name",
        "cdate": "created",
        "udate": "last changed",
        "sdate": "subscribed on",
        "added_at": "created",
        "updated_at": "last changed",
        "text": "what they wrote to us",
        "form_id": "form",
        "date_created": "filled in on",
        "source_url": "on the page",
        "ip": "internet address (IP)",
        "id": "number",
        "url": "website",
        "description": "about yourself",
        "registered_date": "account created",
        "author_name": "name",
        "author_email": "email",
        "author_url": "website",
        "author_ip": "internet address (IP)",
        "author_user_agent": "browser",
        "date": "written on",
        "content": "what you wrote",
        "message": "your message",
        "is_starred": "starred",
        "is_read": "read",
        "created_by": "entered by",
        "user_agent": "browser",
        "date_updated": "last changed",
        "link": "shown at",
    },
}
PARTS = {
    "contact": ("contactgegevens", "contact"),
    "list memberships": ("inschrijvingen op lijsten", "list memberships"),
    "form entry": ("ingevuld formulier", "form entry"),
    "account": ("account op de website", "account on the website"),
    "comment": ("reactie op de website", "comment on the website"),
    "told": ("zoals zij het ons lieten weten", "as they told us"),
    "refused": ("hun reden om te weigeren", "their reason for refusing"),
}


def _in_words(part: dict[str, Any], lang: str) -> dict[str, Any]:
    """A processor's record with its field names in words and its values as text (a list of addresses, not
    a Python list)."""
    names = FIELDS.get(lang, {})
    label = str(part.get("label", ""))
    said = PARTS.get(label)
    records = [{names.get(k, k.replace("_", " ")): _text(v) for k, v in r.items()} for r in part.get("records") or []]
    return {"label": (said[0] if lang == "nl" else said[1]) if said else label, "records": records}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t) or "-"
    if isinstance(value, dict):
        return " ".join(str(v) for k, v in value.items() if v and k != "type") or "-"
    return "-" if value in (None, "") else str(value)


def portable(export: dict[str, Any]) -> list[dict[str, Any]]:
    """GDPR 20: the rows each holder gave of what the person provided (consent's, and any other holder's that
    answers in the same shape), each with its holder and its purpose in words (nl, en)."""
    rows = []
    for holder, answer in sorted(export["holders"].items()):
        data = answer.get("data")
        if isinstance(data, dict):
            names = data.get("purpose_names", {})
            for row in data.get("provided", []):
                named = names.get(row.get("purpose"), {})
                rows.append({"holder": holder, **row, "purpose_nl": named.get("nl"), "purpose_en": named.get("en")})
    return rows


def as_csv(rows: list[dict[str, Any]]) -> str:
    """The same rows as CSV (RFC 4180, a header row, UTF-8): a format any other service reads."""
    fields = ["holder", "purpose", "third_party", "choice", "recorded_at"]
    fields += sorted({k for row in rows for k in row} - set(fields))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in fields})
    return out.getvalue()
