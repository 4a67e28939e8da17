"""Connectors are data: one definition per processor (`definitions/*.json`) says how to reach it, how to
find a person there, which calls each action makes and where the answer's data sits. This module reads and
checks them (pure: no I/O beyond reading the files at start).

A definition:

    key, name            the processor as statement Art. 8 and purposes.json name it (`name` must be one)
    mode                 automated | submitted | instructed | exempt
    reason, reason_nl    instructed: why there is no API; exempt: the legal reason (e.g. GDPR 17(3)(b)); in English and
                         in Dutch (the person's export says it in their language)
    auth                 {"kind": "header", "header": "Api-Token"} | {"kind": "basic"} | {"kind": "bearer"}
                         | {"kind": "oauth2", "token_path": "/oauth2/access_token"} | {"kind": "none"}
    rate                 {"requests": 5, "per_seconds": 1}: the processor's documented limit
    timeout_seconds      per call
    find                 a call whose answer lists the person's records (at `take`), each with an `id`; or a
                         list of such calls, each naming what it finds (`as`: "account", "comment"); every
                         record found by any of them is acted on, and none at all is "nothing held"
    actions              access | erasure | rectification | unsubscribe | subscribe: the calls, in order,
                         made for each record found. A call: method, path (a template: {id}, {email},
                         {item.<field>}, {new.<field>}, {options.<name>}), query, body (a JSON template),
                         take (where the data sits: a dotted path), keep (the fields access shows), label
                         (what it is, in words), gone (statuses meaning "already so", 404 by default for
                         DELETE), each (a call made for every item at `take`), page (limit/offset paging),
                         match ({field: template}: keep only items whose field equals it, case aside: for
                         an API whose search also finds near matches), only (made only for the records
                         a find call `as` that name found); a `keep` field may be a dotted path
                         ("content.raw"), kept under its first part; rename ({field: name}: a kept field
                         shown under a name the export puts in words, such as a form's field ids)
    hook                 the name of a small function in hooks.py, for what only this processor needs
    options              the site's own choices the calls or the hook use, as {options.<name>} (a form's field)
    identifier           {"kind": "ga_client_id", "words": "..."}: the processor names a person by this, never by
                         an address (consent carries it sealed); the calls read the person's values at
                         {ids.<kind>}; without one the processor cannot be asked, and the outcome says so
    submitted            {"due_days": 63, "received_at": "<a name the calls save>"}: a submitted connector's
                         processor does it later; due `due_days` after the time its answer gave
    ask                  always | when_seen: whether a request asks it for everyone, or only for a person
                         consent saw with one of its purposes (an instructed processor is mailed only then;
                         default: when_seen for instructed, always otherwise)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFINITIONS = Path(__file__).parent / "definitions"
ACTIONS = frozenset({"access", "erasure", "rectification", "restriction", "unsubscribe", "subscribe"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class Mode(StrEnum):
    AUTOMATED = "automated"  # the API does it, and says so
    SUBMITTED = "submitted"  # the API accepts it and does it later (GA4 user deletion)
    INSTRUCTED = "instructed"  # no usable API: the processor's privacy contact is instructed, until confirmed
    EXEMPT = "exempt"  # a legal reason not to act (access still lists what is held)


class AuthKind(StrEnum):
    HEADER = "header"
    BASIC = "basic"
    BEARER = "bearer"
    OAUTH2 = "oauth2"
    NONE = "none"


class DefinitionError(ValueError):
    """A connector definition that cannot work: the service refuses to start, naming it."""


@dataclass(frozen=True)
class Page:
    limit: str = "limit"
    offset: str = "offset"
    size: int = 100


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    take: str | None = None
    keep: tuple[str, ...] = ()
    label: str = ""
    gone: frozenset[int] = frozenset()
    each: Call | None = None
    page: Page | None = None
    for_each: str | None = None  # repeat the call for each value of this list (e.g. "lists"), as {item}
    save: dict[str, str] = field(default_factory=dict)  # name -> where in the answer: for the calls after
    match: dict[str, str] = field(default_factory=dict)  # field -> template: only items whose field equals it
    found_as: str = ""  # a find call: what its records are ("account", "comment")
    only: str = ""  # an action's call: made only for the records found as this
    rename: dict[str, str] = field(default_factory=dict)  # kept field -> its name in the export (a form's ids)


@dataclass(frozen=True)
class Action:
    calls: tuple[Call, ...]
    find: bool = True  # made for each record found (False: once, e.g. a subscribe that creates the contact)


@dataclass(frozen=True)
class Auth:
    kind: AuthKind
    header: str = ""
    token_path: str = ""


@dataclass(frozen=True)
class Rate:
    requests: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Connector:
    key: str
    name: str
    mode: Mode
    auth: Auth
    rate: Rate
    timeout_seconds: float = 10.0
    find: tuple[Call, ...] = ()
    id_field: str = "id"
    actions: dict[str, Action] = field(default_factory=dict)
    reason: str = ""
    reason_nl: str = ""  # the same in Dutch, for the person's export
    hook: str | None = None
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # purpose -> the processor's list ids
    ask: str = "always"  # or "when_seen"
    options: dict[str, str] = field(
        default_factory=dict
    )  # the site's own choices (a form's email field), as {options.x}

    identifier: str = ""  # the kind of identifier the processor names people by (not an address)
    identifier_words: str = ""  # that identifier, in words (for an outcome)
    due_days: int = 0  # submitted: days until the processor has done it
    received_at: str = ""  # submitted: the saved answer value that says when it was received

    def can(self, action: str) -> bool:
        return action in self.actions


def _call(raw: dict[str, Any], where: str) -> Call:
    method = str(raw.get("method", "")).upper()
    if method not in METHODS:
        raise DefinitionError(f"{where}: method must be one of {sorted(METHODS)}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise DefinitionError(f"{where}: path must start with /")
    gone = raw.get("gone", [404] if method == "DELETE" else [])
    page = raw.get("page")
    return Call(
        method=method,
        path=path,
        query={str(k): str(v) for k, v in (raw.get("query") or {}).items()},
        body=raw.get("body"),
        take=raw.get("take"),
        keep=tuple(raw.get("keep") or ()),
        label=str(raw.get("label", "")),
        gone=frozenset(int(s) for s in gone),
        each=_call(raw["each"], where + ".each") if raw.get("each") else None,
        page=Page(**page) if isinstance(page, dict) else None,
        for_each=raw.get("for_each"),
        save={str(k): str(v) for k, v in (raw.get("save") or {}).items()},
        match={str(k): str(v) for k, v in (raw.get("match") or {}).items()},
        rename={str(k): str(v) for k, v in (raw.get("rename") or {}).items()},
        found_as=str(raw.get("as", "")),
        only=str(raw.get("only", "")),
    )


def parse(raw: dict[str, Any], processors: frozenset[str]) -> Connector:
    key = str(raw.get("key", ""))
    where = f"connector {key or '?'}"
    if raw.get("name") not in processors:
        raise DefinitionError(f"{where}: name {raw.get('name')!r} is no processor of purposes.json")
    try:
        mode = Mode(str(raw.get("mode")))
        auth = Auth(
            AuthKind(raw.get("auth", {}).get("kind", "none")),
            **{k: v for k, v in raw.get("auth", {}).items() if k != "kind"},
        )
    except (ValueError, TypeError) as exc:
        raise DefinitionError(f"{where}: {exc}") from None
    rate = raw.get("rate") or {"requests": 1, "per_seconds": 1}
    actions = {}
    for action, spec in (raw.get("actions") or {}).items():
        if action not in ACTIONS:
            raise DefinitionError(f"{where}: unknown action {action!r} (one of {sorted(ACTIONS)})")
        calls, find = (spec, True) if isinstance(spec, list) else (spec.get("calls", []), bool(spec.get("find", True)))
        actions[action] = Action(tuple(_call(c, f"{where}.{action}[{i}]") for i, c in enumerate(calls)), find)
    if mode in (Mode.AUTOMATED, Mode.SUBMITTED) and not actions:
        raise DefinitionError(f"{where}: an {mode.value} connector needs actions")
    if mode in (Mode.INSTRUCTED, Mode.EXEMPT) and not raw.get("reason"):
        raise DefinitionError(f"{where}: an {mode.value} connector says why (reason)")
    identifier = raw.get("identifier") or {}
    submitted = raw.get("submitted") or {}
    if mode is Mode.SUBMITTED and not submitted.get("due_days"):
        raise DefinitionError(f"{where}: a submitted connector says when it is due (submitted.due_days)")
    found = {c.found_as for c in _finds(raw.get("find"), where)}
    for action, todo in actions.items():
        for c in todo.calls:
            if c.only and c.only not in found:
                raise DefinitionError(f"{where}.{action}: only {c.only!r} names no find call's records (as)")
    if mode is Mode.AUTOMATED and raw.get("find") is None and not identifier:
        raise DefinitionError(f"{where}: an automated connector finds the person first (find)")
    if auth.kind is AuthKind.HEADER and not auth.header:
        raise DefinitionError(f"{where}: auth kind header needs the header's name")
    ask = str(raw.get("ask", "when_seen" if mode is Mode.INSTRUCTED else "always"))
    if ask not in ("always", "when_seen"):
        raise DefinitionError(f"{where}: ask must be always or when_seen")
    return Connector(
        options={str(k): str(v) for k, v in (raw.get("options") or {}).items()},
        ask=ask,
        key=key,
        name=raw["name"],
        mode=mode,
        auth=auth,
        rate=Rate(int(rate["requests"]), float(rate["per_seconds"])),
        timeout_seconds=float(raw.get("timeout_seconds", 10)),
        find=_finds(raw.get("find"), where),
        id_field=str(raw.get("id_field", "id")),
        actions=actions,
        reason=str(raw.get("reason", "")),
        reason_nl=str(raw.get("reason_nl", "")),
        hook=raw.get("hook"),
        lists={str(p): tuple(str(x) for x in ids) for p, ids in (raw.get("lists") or {}).items()},
        identifier=str(identifier.get("kind", "")),
        identifier_words=str(identifier.get("words", identifier.get("kind", ""))),
        due_days=int(submitted.get("due_days", 0)),
        received_at=str(submitted.get("received_at", "")),
    )


def _finds(raw: Any, where: str) -> tuple[Call, ...]:
    if not raw:
        return ()
    calls = tuple(_call(c, f"{where}.find[{i}]") for i, c in enumerate(raw if isinstance(raw, list) else [raw]))
    if len(calls) > 1 and len({c.found_as for c in calls}) < len(calls):
        raise DefinitionError(f"{where}: each find call names what it finds, once (as)")
    return calls


def load(processors: frozenset[str], folder: Path = DEFINITIONS) -> dict[str, Connector]:
    found = {}
    for path in sorted(folder.glob("*.json")):
        connector = parse(json.loads(path.read_text()), processors)
        if connector.key != path.stem:
            raise DefinitionError(f"{path.name}: key {connector.key!r} differs from the file's name")
        found[connector.key] = connector
    return found
