"""The layers of ARCHITECTURE.md, checked on the source (an AST walk, no import is run):
- `services/common` imports no service, and no service imports another
- a domain module imports no I/O: no database, HTTP, Kafka or web framework

What still breaks the first rule is listed below by name (issue 12's debt). A new break fails, and so does a
listed one that is gone: the list stays true and can only shrink."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
PACKAGES = {"common", "consent", "dsar", "breach", "console", "demo", "fakes"}
KNOWN_DEBT = {
    ("common/cli.py", "services.breach.settings"),
    ("common/cli.py", "services.consent.settings"),
    ("common/cli.py", "services.dsar.settings"),
    ("common/schemagen.py", "services.breach.events"),
    ("common/schemagen.py", "services.consent.events"),
    ("common/schemagen.py", "services.dsar.events"),
}
DOMAINS = ["consent/domain.py", "breach/domain.py", "dsar/domain.py", "consent/kvk_rules.py", "console/charts.py"]
IO = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "httpx", "aiokafka", "asyncpg", "aiosqlite", "uvicorn")


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def crossings() -> set[tuple[str, str]]:
    out = set()
    for path in SERVICES_DIR.rglob("*.py"):
        relative = path.relative_to(SERVICES_DIR)
        if "migrations" in relative.parts:
            continue
        own = relative.parts[0]
        for module in imports_of(path):
            parts = module.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] in PACKAGES - {"common", own}:
                out.add((relative.as_posix(), module))
    return out


def test_no_package_reaches_into_a_service_beyond_the_listed_debt() -> None:
    found = crossings()
    new = sorted(found - KNOWN_DEBT)
    assert not new, f"imports across services (use common/contracts.py or an admin API): {new}"
    gone = sorted(KNOWN_DEBT - found)
    assert not gone, f"no longer imported, take them off KNOWN_DEBT: {gone}"


def test_the_console_knows_only_common() -> None:
    assert not [c for c in crossings() if c[0].startswith("console/")]


def test_domain_modules_do_no_io() -> None:
    for name in DOMAINS:
        bad = sorted(m for m in imports_of(SERVICES_DIR / name) if m.split(".")[0] in IO or m.endswith(".db"))
        assert not bad, f"{name} is a pure module but imports {bad}"
