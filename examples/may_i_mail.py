"""May I mail this person? Answered by another system that holds no key of ours: only a `lookup` token and
the Kafka broker's address.

    python examples/may_i_mail.py --consent http://127.0.0.1:8001 --token pt_... --bootstrap 127.0.0.1:9092 \\
        noor@example.nl sam@example.nl

1. `POST /v1/lookup` (the token) turns each address into its pseudonym, the key of that person's record on
   the compacted topic `consent.state.v1`. Nothing else is needed to read the topic: the pseudonym is
   computed by the consent service, never by us.
2. The topic is read from its start to its end (a compacted topic holds each person's latest state) with
   aiokafka, and each record is read with the official CloudEvents SDK. A tombstone (no value) means the
   person was erased: we hold nothing on them, and the answer is "unknown".
3. What "mail" means comes from `GET /v1/purposes` (public): the purposes that `allow` mail.

Answers, one line per address: `yes` (a consent that allows mail is given now), `no` (we know the person,
and none is given), `unknown` (no record: never seen, or erased). With `--follow` it keeps reading and prints
each change of the addresses asked about, as a mailing system would before each send. `--json` prints JSON.

It needs `httpx`, `aiokafka` and `cloudevents` (pip install httpx aiokafka cloudevents)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

TOPIC = "consent.state.v1"


async def pseudonyms(consent: str, token: str, addresses: list[str]) -> tuple[dict[str, str], set[str]]:
    """Each address's pseudonym (the lookup, 1,000 at a time), and the purposes that allow mail."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=consent, timeout=30) as http:
        purposes = (await http.get("/v1/purposes")).raise_for_status().json()["purposes"]
        mail = {p["id"] for p in purposes if "mail" in p.get("allows", [])}
        for start in range(0, len(addresses), 1000):
            answer = await http.post(
                "/v1/lookup",
                json={"emails": addresses[start : start + 1000]},
                headers={"authorization": f"Bearer {token}"},
            )
            if answer.status_code != 200:
                raise SystemExit(f"the lookup answered {answer.status_code}: {answer.text}")
            for result in answer.json()["results"]:
                found[result["email"]] = result["pseudonym"]
    return found, mail


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])
    if not found:
        raise SystemExit(f"the broker has no topic {topic}: is the consent service running?")
    return found


def verdict(states: dict[str, str] | None, mail: set[str]) -> str:
    if states is None:
        return "unknown"
    return "yes" if any(states.get(p) == "granted" for p in mail) else "no"


def read(record: Any) -> tuple[str, dict[str, str] | None]:
    """(pseudonym, its states), or (pseudonym, None) for a tombstone: the person was erased."""
    key = record.key.decode()
    if record.value is None:
        return key, None
    headers = {name: value for name, value in record.headers}
    event = from_binary_event(KafkaMessage(headers=headers, key=record.key, value=record.value))
    data: Any = event.get_data()
    return key, {str(k): str(v) for k, v in data["purposes"].items()}


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addresses", nargs="+")
    parser.add_argument("--consent", required=True, help="the consent service, e.g. http://127.0.0.1:8001")
    parser.add_argument("--token", required=True, help="a token of scope lookup (privacyctl token create)")
    parser.add_argument("--bootstrap", required=True, help="the Kafka broker, e.g. 127.0.0.1:9092")
    parser.add_argument("--topic-prefix", default="", help="as the services' KAFKA_TOPIC_PREFIX")
    parser.add_argument("--follow", action="store_true", help="keep reading and print each change")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    keys, mail = await pseudonyms(args.consent, args.token, args.addresses)
    wanted = {pseudonym: address for address, pseudonym in keys.items()}
    states: dict[str, dict[str, str] | None] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, enable_auto_commit=False)  # no group: no offsets kept
    await consumer.start()
    try:
        topic = args.topic_prefix + TOPIC
        partitions = [TopicPartition(topic, p) for p in await partitions_of(args.bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:  # until the end of each
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.key is not None and record.key.decode() in wanted:
                        pseudonym, now = read(record)
                        states[pseudonym] = now
        answers = {address: verdict(states.get(pseudonym), mail) for address, pseudonym in keys.items()}
        if args.json:
            print(json.dumps(answers))
        else:
            for address, answer in answers.items():
                print(f"{address}: {answer}")
        sys.stdout.flush()
        while args.follow:
            async for record in consumer:
                if record.key is not None and record.key.decode() in wanted:
                    pseudonym, now = read(record)
                    print(f"{wanted[pseudonym]}: {verdict(now, mail)}", flush=True)
    finally:
        await consumer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
