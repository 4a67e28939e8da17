"""What consent tells a person who asks for access (GDPR 15(1)(a)-(h), 15(2)): only what is true of them.

- the purposes of their own records, each with its basis, the data categories recorded, how long it is kept
  in words that fit its kind, and its recipients (processors and others) with any transfer and safeguard;
- the recipients of the purposes they gave data for (a refusal reaches no one), not every processor;
- where data did not come from the person themselves (recorded by staff from a phone call, a mail, or a
  third party: statement Art. 3.4), the source (15(1)(g));
- their history with its evidence, and their current states."""

from __future__ import annotations

from typing import Any

from services.consent import subjects
from services.consent.context import ConsentContext
from services.consent.domain import STAFF_CHANNELS, Channel, LegalBasis, Purpose

FROM_SOMEONE_ELSE = frozenset({Channel.THIRD_PARTY.value})  # the person did not give it to us themselves


def retention_words(purpose: Purpose) -> dict[str, str]:
    """How long, in words that fit the purpose: a standing consent lasts until withdrawn, a legal obligation
    is the law's period, the others end a period after the last change."""
    days = purpose.retention_days
    years, months = round(days / 365.25), round(days / 30.44)
    span_nl = f"{years} jaar" if days >= 700 else f"{months} maanden"
    span_en = f"{years} years" if days >= 700 else f"{months} months"
    if purpose.standing:
        return {
            "nl": f"Zolang je toestemming staat; na intrekking hoogstens {span_nl}.",
            "en": f"As long as your consent stands; after a withdrawal at most {span_en}.",
        }
    if purpose.legal_basis is LegalBasis.LEGAL_OBLIGATION:
        return {
            "nl": f"{span_nl}, zo lang als de wet ons verplicht het te bewaren; daarna verwijderd.",
            "en": f"{span_en}, as long as the law obliges us to keep it; then erased.",
        }
    return {
        "nl": f"Hoogstens {span_nl} na de laatste wijziging; daarna verwijderd.",
        "en": f"At most {span_en} after the last change; then erased.",
    }


def _recipients(ctx: ConsentContext, purpose: Purpose) -> list[dict[str, Any]]:
    known = {p.name: p for p in ctx.catalogue.processors}
    out: list[dict[str, Any]] = []
    for name in purpose.processors:
        p = known[name]
        out.append(
            {
                "name": name,
                "role": "processor",
                "service": p.service,
                "service_en": p.service_en,
                "country": p.country,
                "outside_eea": p.outside_eea,
                "safeguard": p.safeguard,
            }
        )
    out += [{"name": name, "role": "recipient"} for name in purpose.other_recipients]
    return out


async def fragment(ctx: ConsentContext, subject: str) -> dict[str, Any]:
    """The access fragment: the history, and what it means, limited to this person's purposes."""
    data = await subjects.history(ctx, subject)
    used = {r["purpose"] for r in data["records"]} | {k.removeprefix("browser:").split(":")[0] for k in data["states"]}
    purposes: dict[str, dict[str, Any]] = {}
    shared = {r["purpose"] for r in data["records"] if r["state"] == "granted"}  # a refusal reaches no one
    for pid in sorted(used):
        purpose = ctx.catalogue.purpose(pid)
        if purpose is None:
            continue
        recorded = {c for r in data["records"] if r["purpose"] == pid for c in r["categories"]}
        purposes[pid] = {
            "legal_basis": purpose.legal_basis.value,
            "retention_days": purpose.retention_days,
            "retention": retention_words(purpose),
            # what is held: what was recorded, else the purpose's kinds; of a refusal only the address
            "categories": sorted(recorded or set(purpose.categories)) if pid in shared else ["email"],
            "recipients": _recipients(ctx, purpose) if pid in shared else [],
            "description_nl": purpose.description_nl,
            "description_en": purpose.description_en,
        }
    recipients: dict[str, dict[str, Any]] = {}
    for info in purposes.values():
        for r in info["recipients"]:
            recipients.setdefault(r["name"], r)
    staff = {c.value for c in STAFF_CHANNELS}
    sources = sorted(
        {r["channel"] for r in data["records"] if r["channel"] in staff or r["channel"] in FROM_SOMEONE_ELSE}
    )
    return {
        **data,
        "purposes": purposes,
        "recipients": list(recipients.values()),
        "sources": [{"channel": c, "from_someone_else": c in FROM_SOMEONE_ELSE} for c in sources],
    }


# GDPR 20: what the person gave us themselves (filled in, chosen), not what we observed about the request
PROVIDED_FIELDS = ("email", "name", "date_of_birth", "company_name", "kvk_number", "postcode", "house_number", "note")
PORTABLE_BASES = frozenset({LegalBasis.CONSENT.value, LegalBasis.CONTRACT.value})


async def portable(ctx: ConsentContext, subject: str) -> dict[str, Any]:
    """The data the person provided, on consent or a contract (GDPR 20(1)), one row per recorded choice, in a
    structured, machine-readable form: the fields they gave, the purpose and what they chose, and when."""
    data = await subjects.history(ctx, subject)
    rows = []
    for r in data["records"]:
        if r["legal_basis"] not in PORTABLE_BASES or r["browser"]:
            continue
        evidence = r["evidence"] if isinstance(r["evidence"], dict) else {}
        rows.append(
            {
                "purpose": r["purpose"],
                "third_party": r["third_party"],
                "choice": r["state"],
                "recorded_at": r["recorded_at"],
                **{f: evidence.get(f) for f in PROVIDED_FIELDS},
            }
        )
    names = {
        pid: {"nl": p.description_nl, "en": p.description_en}
        for pid in {r["purpose"] for r in rows}
        if (p := ctx.catalogue.purpose(pid)) is not None
    }
    return {
        "provided": rows,
        "fields": ["purpose", "third_party", "choice", "recorded_at", *PROVIDED_FIELDS],
        "purpose_names": names,
    }
