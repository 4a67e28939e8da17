"""The committed consent.js build: made from the committed sources, within its size budget, and (where
esbuild is installed, as in CI) byte for byte what the build script makes now."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from services.consent import assets

ROOT = Path(__file__).parent.parent.parent
SRC = ROOT / "services" / "consent" / "js"
BUDGET = 8 * 1024  # gzipped, script and styles together (issue: <= 8 KB; cookieconsent 15.4 KB, Klaro 68.9 KB)


def _version() -> str:
    return str(json.loads((ROOT / "package.json").read_text())["version"])


def test_the_build_names_the_sources_it_was_made_from() -> None:
    built = (assets.STATIC / f"consent-{_version()}.js").read_text()
    found = re.match(r"/\*! consent\.js (\S+) \| Apache-2\.0 \| sources sha256:([0-9a-f]{64}) \*/\n", built)
    assert found, "the build's first line names its version and sources"
    digest = hashlib.sha256()
    for part in ((SRC / "consent.js").read_bytes(), b"\0", (SRC / "consent.css").read_bytes(), b"\0"):
        digest.update(part)
    digest.update(_version().encode())
    assert found.group(1) == _version()
    assert found.group(2) == digest.hexdigest(), "sources changed since the build: run `npm run build`"


def test_script_and_styles_stay_within_the_size_budget() -> None:
    body = assets.scripts()[_version()].body
    assert len(gzip.compress(body, 9)) <= BUDGET
    assert b"__CSS__" not in body and b"__VERSION__" not in body, "the build defines both"


@pytest.mark.skipif(not (ROOT / "node_modules" / "esbuild").exists(), reason="npm ci installs esbuild")
def test_rebuilding_gives_the_committed_file(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed to rebuild"
    subprocess.run([node, str(ROOT / "scripts" / "build-consent-js.mjs"), "--out", str(tmp_path)], check=True)
    name = f"consent-{_version()}.js"
    assert (tmp_path / name).read_bytes() == (assets.STATIC / name).read_bytes()


def test_every_published_version_has_an_integrity_hash() -> None:
    for version, script in assets.scripts().items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version)
        assert script.integrity == "sha384-" + base64.b64encode(hashlib.sha384(script.body).digest()).decode()
    assert assets.newest() == assets.scripts()[_version()]
