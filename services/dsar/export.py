"""The access export (GDPR 15; statement Art. 10): every holder's fragment in one JSON document and one
readable page, in Dutch or English. Its cost follows the request, not the size of the databases."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlmodel import col, select

from services.common.crypto import ShreddedError
from services.common.errors import ServiceError
from services.dsar.models import DsarRequest, HolderAnswer
from services.dsar.service import DsarContext

RIGHTS = {
    "nl": (
        "Je kunt je gegevens laten corrigeren of verwijderen, de verwerking laten beperken en bezwaar maken. "
        "Een klacht kun je indienen bij de Autoriteit Persoonsgegevens. Er vindt geen geautomatiseerde "
        "besluitvorming plaats (privacyverklaring art. 6)."
    ),
    "en": (
        "You may have your data corrected or erased, restrict its processing and object. You may complain to "
        "the Dutch Data Protection Authority (Autoriteit Persoonsgegevens). No automated decisions are made "
        "about you (statement Art. 6)."
    ),
}
LABELS = {
    "nl": {
        "title": "Jouw gegevens",
        "holder": "Bron",
        "state": "Status",
        "purpose": "Doel",
        "when": "Tijd",
        "channel": "Kanaal",
        "basis": "Grondslag",
        "evidence": "Vastgelegd bewijs",
        "recipients": "Ontvangers",
        "retention": "Bewaartermijn (dagen)",
        "nothing": "Geen gegevens",
        "rights": "Je rechten",
    },
    "en": {
        "title": "Your data",
        "holder": "Source",
        "state": "State",
        "purpose": "Purpose",
        "when": "Time",
        "channel": "Channel",
        "basis": "Legal basis",
        "evidence": "Recorded evidence",
        "recipients": "Recipients",
        "retention": "Retention (days)",
        "nothing": "No data",
        "rights": "Your rights",
    },
}


async def compile_export(ctx: DsarContext, request_id: str) -> dict[str, Any]:
    async with ctx.rt.db.read() as s:
        request = await s.get(DsarRequest, request_id)
        if request is None or request.kind != "access" or request.state != "completed":
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
    return {
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at,
            "verified_at": request.verified_at,
            "completed_at": request.completed_at,
        },
        "controller": "Je zaak voor Elkaar B.V., Ambachtweg 12, 2841 LZ Moordrecht, team@jezaakvoorelkaar.nl",
        "holders": holders,
        "rights": RIGHTS,
        "generated_at": datetime.now(UTC),
    }


def render_html(export: dict[str, Any], language: str) -> str:
    lang = language if language in LABELS else "nl"
    t = LABELS[lang]
    parts = [f"<h1>{t['title']}</h1>", f"<p>{escape(export['controller'])}</p>"]
    for holder, answer in export["holders"].items():
        parts.append(f"<h2>{t['holder']}: {escape(holder)}</h2>")
        data = answer["data"]
        if not isinstance(data, dict) or not data.get("records"):
            parts.append(f"<p>{t['nothing']}</p>")
            continue
        states = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted(data.get("states", {}).items()))
        parts.append(f"<h3>{t['state']}</h3><ul>{states}</ul>")
        rows = []
        for r in data["records"]:
            evidence = r.get("evidence")
            shown = (
                ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in evidence.items())
                if isinstance(evidence, dict)
                else escape(str(evidence or ""))
            )
            rows.append(
                f"<tr><td>{escape(str(r['recorded_at'])[:19])}</td><td>{escape(r['purpose'])}</td>"
                f"<td>{escape(r['state'])}</td><td>{escape(r['channel'])}</td>"
                f"<td>{escape(r['legal_basis'])}</td><td>{shown}</td></tr>"
            )
        parts.append(
            f"<table><tr><th>{t['when']}</th><th>{t['purpose']}</th><th>{t['state']}</th>"
            f"<th>{t['channel']}</th><th>{t['basis']}</th><th>{t['evidence']}</th></tr>{''.join(rows)}</table>"
        )
        purposes = data.get("purposes", {})
        if purposes:
            items = "".join(
                f"<li>{escape(p)} ({escape(v['legal_basis'])}): {t['retention']} {v['retention_days']}</li>"
                for p, v in purposes.items()
            )
            parts.append(f"<h3>{t['purpose']}</h3><ul>{items}</ul>")
        recipients = data.get("recipients", [])
        if recipients:
            parts.append(f"<h3>{t['recipients']}</h3><p>" + ", ".join(escape(x["name"]) for x in recipients) + "</p>")
    parts.append(f"<h2>{t['rights']}</h2><p>{escape(export['rights'][lang])}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;"
        "text-align:left;font-size:.85rem;vertical-align:top}"
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{t["title"]}</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
