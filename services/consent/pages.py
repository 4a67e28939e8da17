"""Small HTML pages people see: confirm a sign-up, unsubscribe, read their consent history."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "button{font-size:1rem;padding:.6rem 1.2rem}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;font-size:.9rem}"
)


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
        f"</head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def confirm_form(action: str) -> str:
    # A GET never confirms: mail scanners follow links. The person presses the button (a POST).
    return page(
        "Aanmelding bevestigen",
        (
            "<p>Klik op de knop om je aanmelding te bevestigen. / Press the button to confirm.</p>"
            f'<form method="post" action="{escape(action)}"><button type="submit">Bevestigen / Confirm</button></form>'
        ),
    )


def confirmed(purposes: list[str]) -> str:
    return page(
        "Bevestigd",
        f"<p>Dank je wel: bevestigd voor {escape(', '.join(purposes) or '-')}.</p>"
        "<p>Afmelden kan altijd via de link in elke mail.</p>",
    )


def unsubscribe_form(action: str, purposes: list[str]) -> str:
    what = "alles" if purposes == ["*"] else ", ".join(purposes)
    return page(
        "Afmelden",
        (
            f"<p>Afmelden voor: {escape(what)}. Een reden is niet nodig.</p>"
            f'<form method="post" action="{escape(action)}">'
            '<button type="submit">Afmelden / Unsubscribe</button></form>'
        ),
    )


def unsubscribed(purposes: list[str]) -> str:
    what = ", ".join(purposes) if purposes else "niets meer om af te melden"
    return page("Afgemeld", f"<p>Je bent afgemeld: {escape(what)}. / You are unsubscribed.</p>")


def history(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(r['recorded_at'])[:19])}</td><td>{escape(r['purpose'])}</td>"
        f"<td>{escape(r['state'])}</td><td>{escape(r['channel'])}</td><td>{escape(r['legal_basis'])}</td></tr>"
        for r in data["records"]
    )
    states = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted(data["states"].items()))
    return page(
        "Jouw toestemmingen / Your consents",
        (
            f"<h2>Nu / Now</h2><ul>{states or '<li>-</li>'}</ul><h2>Geschiedenis / History</h2>"
            f"<table><tr><th>Tijd</th><th>Doel</th><th>Status</th><th>Kanaal</th><th>Grondslag</th></tr>{rows}</table>"
        ),
    )
