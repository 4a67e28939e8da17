"""What the processors service reads of the purposes file (`purposes.json`, the consent service's
configuration, read here as a file and never through consent's code): which processors work on which
purpose. A connector names its processor as the file does; what it holds comes from here, not repeated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT = Path(__file__).parent.parent / "consent" / "purposes.json"


@dataclass(frozen=True)
class Purposes:
    processors: frozenset[str]  # every processor of statement Art. 8
    by_processor: dict[str, tuple[str, ...]]  # processor -> the purposes it works on
    direct_marketing: frozenset[str]  # purposes that are direct marketing (GDPR 21(3))
    controller: str = ""  # who instructs the processors (the statement's controller)

    def purposes_of(self, processor: str) -> tuple[str, ...]:
        return self.by_processor.get(processor, ())


def load(path: Path = DEFAULT) -> Purposes:
    raw = json.loads(path.read_text())
    names = frozenset(p["name"] for p in raw.get("processors", []))
    by: dict[str, list[str]] = {name: [] for name in names}
    for purpose in raw.get("purposes", []):
        for name in purpose.get("processors", []):
            if name in by:
                by[name].append(purpose["id"])
    return Purposes(
        processors=names,
        by_processor={k: tuple(v) for k, v in by.items()},
        direct_marketing=frozenset(p["id"] for p in raw.get("purposes", []) if p.get("direct_marketing")),
        controller=str((raw.get("statement") or {}).get("controller", "")),
    )
