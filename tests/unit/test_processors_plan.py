"""What each processor is asked for each kind of request (services/processors/domain.py)."""

from __future__ import annotations

import json
from typing import Any

from services.common.contracts import Outcome, RequestKind
from services.processors import connectors, domain, purposes
from services.processors.domain import TaskState

KNOWN = purposes.load()
AC = connectors.load(KNOWN.processors)["activecampaign"]


def exempt() -> connectors.Connector:
    raw: dict[str, Any] = {
        "key": "digitalefactuur",
        "name": "Digitale Factuur",
        "mode": "exempt",
        "reason": "invoices are kept 7 years under Dutch fiscal law (AWR art. 52; GDPR 17(3)(b))",
    }
    return connectors.parse(raw, KNOWN.processors)


def test_each_kind_of_request_asks_what_the_law_means() -> None:
    assert domain.plan(RequestKind.ERASURE, AC, KNOWN.direct_marketing) == domain.Plan(TaskState.WAITING, "erasure")
    assert domain.plan(RequestKind.ACCESS, AC, KNOWN.direct_marketing).action == "access"
    # a restriction stops mail from every list; an objection from direct marketing's (GDPR 18, 21(3))
    restriction = domain.plan(RequestKind.RESTRICTION, AC, KNOWN.direct_marketing)
    assert (restriction.action, restriction.lists) == ("unsubscribe", ("2", "1"))
    objection = domain.plan(RequestKind.OBJECTION, AC, KNOWN.direct_marketing)
    assert objection.action == "unsubscribe" and set(objection.lists) == {"1", "2"} & {
        x for p in KNOWN.direct_marketing for x in AC.lists.get(p, ())
    }


def test_an_exempt_processor_is_never_asked_to_change_and_says_why() -> None:
    kept = domain.plan(RequestKind.ERASURE, exempt(), KNOWN.direct_marketing)
    assert kept.state is TaskState.EXEMPT and "17(3)(b)" in kept.outcome
    assert "17(3)(b)" in domain.said(kept.state, "Digitale Factuur", kept.action, kept.outcome)
    assert domain.plan(RequestKind.ACCESS, exempt(), KNOWN.direct_marketing).state is TaskState.NO_API


def test_the_processors_answer_follows_what_was_done() -> None:
    done, none = [TaskState.DONE, TaskState.EXEMPT], [TaskState.NOTHING_HELD, TaskState.EXEMPT]
    assert domain.holder_outcome(RequestKind.ERASURE, done, False) is Outcome.ERASED
    assert domain.holder_outcome(RequestKind.ERASURE, none, False) is Outcome.NOTHING_HELD
    assert domain.holder_outcome(RequestKind.ACCESS, none, True) is Outcome.PROVIDED
    assert domain.holder_outcome(RequestKind.RESTRICTION, done, False) is Outcome.RESTRICTED


def test_every_definition_names_a_processor_of_the_statement() -> None:
    for path in connectors.DEFINITIONS.glob("*.json"):
        assert json.loads(path.read_text())["name"] in KNOWN.processors
