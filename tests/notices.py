"""The form text the tests' captures are made on. Like a company's own form, it is put on file before a
choice names it (`POST /admin/notices`, here `notices.archive_text`, which that route calls): `running`
does so for every consent app it starts. A public capture naming any other hash is refused."""

from __future__ import annotations

from typing import Any

from services.consent import notices
from services.consent.context import ConsentContext

VERSION = "2024-05"
LANG = "nl"
CONTENT: dict[str, Any] = {
    "text": "Ik geef toestemming om mijn gegevens te gebruiken zoals de privacyverklaring beschrijft.",
    "labels": {},
}
NOTICE = {"version": VERSION, "hash": notices.text_hash({**CONTENT, "version": VERSION, "lang": LANG})}


async def put_on_file(rt: Any) -> None:
    sha = await notices.archive_text(ConsentContext.of(rt), version=VERSION, lang=LANG, content=CONTENT)
    assert sha == NOTICE["hash"]
