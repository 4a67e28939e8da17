"""The page-view baselines (benchmarks/page_view.py): a bare FastAPI app on the same server and load tool,
with no middleware of ours, answering what the consent service answers on a page view:

    GET /healthz            a constant (the bare request)
    GET /v1/banner          the same bytes the consent service's banner answers, with its ETag and
                            Cache-Control; 304 for a matching If-None-Match
    GET /v1/consent.js      the same file through Starlette's FileResponse

BANNER_FILE names the banner's bytes (written by the benchmark from the running service's answer)."""

import os
import pathlib

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from services.consent import assets

app = FastAPI()
BANNER = pathlib.Path(os.environ["BANNER_FILE"]).read_bytes() if os.environ.get("BANNER_FILE") else b"{}"
ETAG = os.environ.get("BANNER_ETAG", '"0"')
HEADERS = {"cache-control": "public, max-age=225, stale-while-revalidate=75", "etag": ETAG, "vary": "origin"}
SCRIPT = assets.STATIC / f"consent-{assets.newest().version}.js"  # type: ignore[union-attr]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/banner")
async def banner(request: Request) -> Response:
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers=HEADERS)
    return Response(BANNER, media_type="application/json", headers=HEADERS)


@app.get("/v1/consent.js")
async def script() -> FileResponse:
    return FileResponse(SCRIPT, media_type="text/javascript")
