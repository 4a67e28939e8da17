"""The browser script, as built into `static/` by `scripts/build-consent-js.mjs` from `js/`.

Every version kept in `static/` is served at /v1/consent-<version>.js (immutable, so a site can pin it
with its SRI hash); the newest is also /v1/consent.js. Files are read and gzipped once per process."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).parent / "static"
NAME = re.compile(r"^consent-(\d+)\.(\d+)\.(\d+)\.js$")


@dataclass(frozen=True)
class Script:
    version: str
    body: bytes
    gzipped: bytes
    integrity: str  # Subresource Integrity: sha384, base64
    etag: str

    @property
    def path(self) -> str:
        return f"/v1/consent-{self.version}.js"


def scripts(folder: Path = STATIC) -> dict[str, Script]:
    """Every built version in `folder`, by version string (read once per process and folder)."""
    return _read(folder)


@functools.cache
def _read(folder: Path) -> dict[str, Script]:
    found: dict[str, Script] = {}
    for file in sorted(folder.glob("consent-*.js")):
        if not NAME.match(file.name):
            continue
        body = file.read_bytes()
        version = file.name.removeprefix("consent-").removesuffix(".js")
        found[version] = Script(
            version=version,
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            integrity="sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode(),
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
    return found


def newest(folder: Path = STATIC) -> Script | None:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    built = scripts(folder)
    return built[max(built, key=key)] if built else None
