"""Generate the checked-in contract: one JSON Schema per event type and the AsyncAPI 3.0 document.

python -m services.common.schemagen          write schemas/events/*.json and schemas/asyncapi.json
python -m services.common.schemagen --check  exit 1 when the checked-in files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.common import registry
from services.common.catalog import load_all
from services.common.contracts import AffectedSubjectsFound, HolderAnswered
from services.common.events import CONTENT_TYPE, DSAR_ANSWERS, LEDGER_CHECKPOINTS, LEDGER_ENTRIES, EventData
from services.common.ledger.events import CheckpointSigned
from services.common.ledger.journal import LedgerEntriesAppended
from services.common.ledger.recovery import LedgerEpochStarted

ROOT = Path(__file__).resolve().parent.parent.parent / "schemas"


# What common itself puts on the wire: answers from any holder (external systems too), every ledger's checkpoints
COMMON_CHANNELS: dict[str, list[type[EventData]]] = {
    DSAR_ANSWERS.name: [HolderAnswered, AffectedSubjectsFound],
    LEDGER_CHECKPOINTS.name: [CheckpointSigned, LedgerEpochStarted],
    LEDGER_ENTRIES.name: [LedgerEntriesAppended],
}


def channels() -> dict[str, list[type[EventData]]]:
    """Which event types travel on which topic, in the registry's order of topics: what each service
    registered, and common's own."""
    found: dict[str, list[type[EventData]]] = {t.name: [] for t in registry.topics()}
    for registration in registry.registered().values():
        for topic, models in registration.channels.items():
            if topic not in found:
                raise ValueError(
                    f"{registration.name} publishes on {topic}, which is not among the topics of events.py"
                )
            found[topic].extend(m for m in models if m not in found[topic])
    for topic, models in COMMON_CHANNELS.items():
        found[topic].extend(m for m in models if m not in found[topic])
    return {topic: models for topic, models in found.items() if models}


def consumer_groups() -> list[tuple[str, str, list[str]]]:
    """(service, consumer group, topics it reads)."""
    return [
        (registration.name, group, topics)
        for registration in registry.registered().values()
        for group, topics in registration.consumers
    ]


def producers() -> dict[str, list[str]]:
    """The topics each service publishes on through its outbox (its ledger's checkpoints and entries included)."""
    return {
        name: [*registration.channels, LEDGER_CHECKPOINTS.name, LEDGER_ENTRIES.name]
        for name, registration in registry.registered().items()
    }


def schema_file(model: type[EventData]) -> str:
    return f"events/{model.event_type}.v{model.schema_version}.json"


HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 in Kafka binary mode: every attribute a ce_<name> header.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string"},
        "ce_source": {"type": "string", "format": "uri-reference"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string"},
        "ce_dataschema": {"type": "string"},
        "ce_partitionkey": {"type": "string"},
        "ce_traceparent": {
            "type": "string",
            "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "CloudEvents distributed-tracing extension: the W3C trace context of the span that "
            "wrote the event (a consumer continues that trace; a malformed value starts a new one)",
        },
        "content-type": {"const": CONTENT_TYPE},
    },
}


def event_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": model.schema_uri(),
        "title": model.type_name(),
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _key(name: str) -> str:
    return name.replace(".", "_")


def asyncapi() -> dict[str, Any]:
    topics = {t.name: t for t in registry.topics()}
    chans: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic, models in channels().items():
        t = topics[topic]
        refs = {}
        for model in models:
            name = _key(model.event_type)
            messages[name] = {
                "name": model.type_name(),
                "title": model.type_name(),
                "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else model.type_name(),
                "contentType": CONTENT_TYPE,
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": schema_file(model)},
                "bindings": {
                    "kafka": {"key": {"type": "string", "description": "The subject's pseudonym (ce_partitionkey)"}}
                },
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        chans[_key(topic)] = {
            "address": topic,
            "description": t.description,
            "messages": refs,
            "bindings": {
                "kafka": {"topic": topic, "topicConfiguration": {"cleanup.policy": [t.configs()["cleanup.policy"]]}}
            },
        }
    for _service, group, _topics in consumer_groups():
        dlq = f"{group}.dlq"
        chans[_key(dlq)] = {
            "address": dlq,
            "description": f"Records the consumer group {group} could not apply, with headers dlq-reason, "
            "dlq-topic, dlq-partition, dlq-offset, dlq-group added to the original record.",
            "messages": {},
        }
    operations: dict[str, Any] = {}
    for service, produced in producers().items():
        for topic in produced:
            operations[f"{service}_sends_{_key(topic)}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_key(topic)}"},
                "summary": f"The {service} service publishes through its transactional outbox.",
            }
    for service, group, read in consumer_groups():
        for topic in read:
            operations[f"{service}_receives_{_key(topic)}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{_key(topic)}"},
                "summary": f"Consumer group {group}: applied once per event id, offsets committed after the effect.",
                "bindings": {"kafka": {"groupId": {"type": "string", "enum": [group]}}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Privacy backend events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 in Kafka binary mode: the record value is the data, `content-type` "
            "is the datacontenttype, every other attribute is a `ce_<name>` header. Keys are the subject's "
            "pseudonym, so one person's events stay ordered. Deployments may prefix every topic and group.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "scripts/kafka.sh"}},
        "channels": chans,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"CloudEventHeaders": HEADERS},
        },
    }


def generated() -> dict[str, str]:
    load_all()
    files = {
        "asyncapi.json": asyncapi(),
        "cloudevent-headers.schema.json": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://jezaakvoorelkaar.nl/schemas/cloudevent-headers.schema.json",
            "title": "Kafka record headers of every event",
            **HEADERS,
        },
    }
    for models in channels().values():
        for model in models:
            files[schema_file(model)] = event_schema(model)
    return {name: json.dumps(content, indent=2, sort_keys=False) + "\n" for name, content in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    files = generated()
    if args.check:
        stale = [n for n, text in files.items() if not (ROOT / n).exists() or (ROOT / n).read_text() != text]
        if stale:
            print(f"stale or missing: {', '.join(stale)}; run `make schemas`", file=sys.stderr)
            return 1
        return 0
    for name, text in files.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_text(text)
    print(f"wrote {len(files)} files under {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
