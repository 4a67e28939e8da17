"""A local stand-in for the KvK API (API Basisprofiel v1), for tests and `make run`: the same paths, the
`apikey` header, JSON answers shaped like the register's, and its error answers. Fictitious companies only.

    GET /v1/basisprofielen/{kvkNummer}     200 Basisprofiel | 400 | 401 (wrong key) | 404 | 429 | 500
    KVK_FAKE_API_KEY (default: the key make run gives consent)

Numbers with a behaviour: 90000404 not found, 90000429 rate-limited, 90000500 server error, 90000503
unavailable, 90000999 answers after 5 s (a slow register)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path
from fastapi.responses import JSONResponse

COMPANIES: dict[str, dict[str, Any]] = {
    "68750110": {
        "naam": "Test BV Donald",
        "handelsnamen": [{"naam": "Test BV Donald", "volgorde": 0}, {"naam": "Donald Bakkerij", "volgorde": 1}],
        "adres": {"straatnaam": "Hizzaarderlaan", "huisnummer": 3, "postcode": "8911 AB", "plaats": "Leeuwarden"},
    },
    "69599084": {
        "naam": "Test EMZ Dagobert",
        "handelsnamen": [{"naam": "Test EMZ Dagobert", "volgorde": 0}],
        "adres": {"straatnaam": "Abebe Bikilalaan", "huisnummer": 17, "postcode": "1069 KA", "plaats": "Amsterdam"},
    },
}
ERRORS = {"90000404": 404, "90000429": 429, "90000500": 500, "90000503": 503}


def _fout(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse({"fout": [{"code": code, "omschrijving": text}]}, status_code=status)


def create(api_key: str | None = None) -> FastAPI:
    key = api_key or os.environ.get("KVK_FAKE_API_KEY", "l7xx-dev-kvk-key")
    app = FastAPI(title="KvK API (local fake)", docs_url=None, redoc_url=None)
    app.state.requests = []  # what was asked, for tests

    @app.get("/v1/basisprofielen/{kvk_nummer}")
    async def basisprofiel(
        kvk_nummer: Annotated[str, Path()], apikey: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        app.state.requests.append(kvk_nummer)
        headers = {"api-version": "1.4.4"}
        if apikey != key:
            return _fout(401, "IPD0001", "Geen geldige API-key")
        if not (len(kvk_nummer) == 8 and kvk_nummer.isdigit()):
            return _fout(400, "IPD1999", "Het KvK-nummer bestaat uit 8 cijfers")
        if kvk_nummer == "90000999":
            await asyncio.sleep(5)
        if kvk_nummer in ERRORS:
            status = ERRORS[kvk_nummer]
            answer = _fout(status, f"IPD{status}", "Fout in de testomgeving")
            if status == 429:
                answer.headers["retry-after"] = "1"
            return answer
        company = COMPANIES.get(kvk_nummer)
        if company is None:
            return _fout(404, "IPD0005", "Geen gegevens gevonden")
        address = {
            "type": "bezoekadres",
            "volledigAdres": "{straatnaam} {huisnummer} {postcode} {plaats}".format(**company["adres"]),
            **company["adres"],
            "land": "Nederland",
        }
        body = {
            "kvkNummer": kvk_nummer,
            "naam": company["naam"],
            "handelsnamen": company["handelsnamen"],
            "_embedded": {"hoofdvestiging": {"vestigingsnummer": "0000" + kvk_nummer, "adressen": [address]}},
            "_links": {"self": {"href": f"/v1/basisprofielen/{kvk_nummer}"}},
        }
        return JSONResponse(body, headers=headers)

    return app
