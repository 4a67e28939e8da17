"""A receiver of the consent service's webhooks that you can copy: it checks each delivery's signature
(Standard Webhooks, with the specification's reference library), drops a delivery it already had (by its
`webhook-id`: deliveries come at least once), and keeps each person's newest state (by the body's
`timestamp`: a delivery sent again later never overwrites a newer state).

    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 9000

Register it as a privacy officer (the answer holds the secret, once):

    curl -X PUT http://127.0.0.1:8001/admin/webhooks/crm -H "authorization: Bearer $DPO_TOKEN" \\
        -H 'content-type: application/json' \\
        -d '{"url": "https://crm.example.nl/hooks/consent", "purposes": ["newsletter"]}'

Answers: 204 for a delivery taken (or one already had), 401 for a bad signature or a timestamp more than
five minutes off (the library's tolerance: a replayed old delivery is refused), 400 for a body that is not
a consent change. It needs `standardwebhooks` (pip install standardwebhooks)."""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY = 64 * 1024
REMEMBERED = 100_000  # webhook-ids kept to drop repeats (deliveries are retried for a day at most)


class Receiver:
    """The rules, apart from any web server: `take(headers, body)` answers (status, what happened)."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.states: dict[str, tuple[str, dict[str, str] | None]] = {}  # pseudonym -> (timestamp, states)
        self.taken: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def take(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        try:
            message = self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            return 401, f"refused: {exc}"
        message_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        try:
            data, at = message["data"], str(message["timestamp"])
            pseudonym = str(data["pseudonym"])
        except (KeyError, TypeError):
            return 400, "not a consent change"
        with self.lock:
            if message_id in self.seen:
                return 204, "already had it"
            self.seen[message_id] = None
            while len(self.seen) > REMEMBERED:
                self.seen.popitem(last=False)
            held = self.states.get(pseudonym)
            if held is None or held[0] <= at:  # ISO times in UTC compare as text
                self.states[pseudonym] = (at, None if data.get("erased") else dict(data["purposes"]))
            self.taken.append(message)
        return 204, "taken"

    def may_mail(self, pseudonym: str, purpose: str = "newsletter") -> bool:
        held = self.states.get(pseudonym)
        return bool(held and held[1] and held[1].get(purpose) == "granted")


def handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.send_error(413, "too large")
                return
            status, what = receiver.take(dict(self.headers.items()), self.rfile.read(length))
            if status == 204:
                print(json.dumps(receiver.taken[-1]) if what == "taken" else f"({what})", flush=True)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass  # one line per delivery is printed above; nothing else

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        raise SystemExit("set WEBHOOK_SECRET to the whsec_... secret the registration answered")
    server = ThreadingHTTPServer((args.host, args.port), handler(Receiver(secret)))
    print(f"receiving consent changes on http://{args.host}:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
