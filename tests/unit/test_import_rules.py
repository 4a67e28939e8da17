"""The layers of ARCHITECTURE.md, checked on the source (an AST walk, no import is run):
- `services/common` imports no service, and no service imports another
- a domain module imports no I/O: no database, HTTP, Kafka or web framework

- no module of ours imports, at any depth, a module that imports it back (a cycle), lazily or not

Common finds the services through their registrations (services/common/registry.py), never by name."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
PACKAGES = {"common", "consent", "dsar", "breach", "console", "demo", "fakes"}
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


def test_no_package_reaches_into_a_service() -> None:
    found = sorted(crossings())
    assert not found, f"imports across services (use common/contracts.py, the registry or an admin API): {found}"


def test_the_console_knows_only_common() -> None:
    assert not [c for c in crossings() if c[0].startswith("console/")]


def test_domain_modules_do_no_io() -> None:
    for name in DOMAINS:
        bad = sorted(m for m in imports_of(SERVICES_DIR / name) if m.split(".")[0] in IO or m.endswith(".db"))
        assert not bad, f"{name} is a pure module but imports {bad}"


def runtime_imports(path: Path) -> set[str]:
    """The modules of ours a module imports when it runs: at its top or inside a function, but not under
    `if TYPE_CHECKING:` (annotations only). `from package import name` counts `package.name` if that is a module."""
    found: set[str] = set()
    package = ".".join(path.relative_to(SERVICES_DIR.parent).with_suffix("").parts[:-1])

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in SERVICES_DIR.rglob("*.py"):
        if "migrations" in path.relative_to(SERVICES_DIR).parts:
            continue
        name = ".".join(path.relative_to(SERVICES_DIR.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return {name: runtime_imports(path) & modules.keys() - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_there_is_no_import_cycle() -> None:
    graph = module_graph()
    assert graph["services.consent.context"], "the graph sees imports"
    assert not cycles(graph), cycles(graph)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


ROUTE_MODULES = sorted(p for p in SERVICES_DIR.rglob("*routes.py") if "console" not in p.parts)


def test_routes_only_parse_call_and_answer() -> None:
    """A route module reaches no database: no SQLAlchemy, no `.db.` of a runtime, no recording. The work is a
    use-case's (service modules); the console has no database at all."""
    assert len(ROUTE_MODULES) == 10, ROUTE_MODULES
    for path in ROUTE_MODULES:
        source = path.read_text()
        bad = sorted(m for m in imports_of(path) if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "asyncpg"))
        assert not bad, f"{path.relative_to(SERVICES_DIR)} imports {bad}"
        for needle in (".db.", ".recorder.record(", "transaction()"):
            assert needle not in source, f"{path.relative_to(SERVICES_DIR)} does persistence itself ({needle})"


def test_route_modules_take_their_context_as_a_dependency() -> None:
    """Each service's routes get their context from an `Annotated` dependency (`ctx: Ctx`), not by reaching
    into `request.app.state` themselves (the one exception: consent's hot capture route, which skips
    FastAPI's dependency solving on purpose)."""
    for service in ("consent", "dsar", "breach", "processors"):
        sources = {p.name: p.read_text() for p in (SERVICES_DIR / service).glob("*routes.py")}
        assert any(
            "Ctx = Annotated[" in s
            for s in [
                *sources.values(),
                (SERVICES_DIR / service / "web.py").read_text() if (SERVICES_DIR / service / "web.py").exists() else "",
            ]
        ), service
        for name, source in sources.items():
            assert source.count("context(request)") <= (1 if (service, name) == ("consent", "routes.py") else 0), name
    ledger = (SERVICES_DIR / "common" / "ledger" / "routes.py").read_text()
    assert "Rt = Annotated[" in ledger and "_runtime(request)" not in ledger.split("Rt = Annotated[", 1)[1]
