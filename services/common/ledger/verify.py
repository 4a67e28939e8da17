"""ledger-verify: check a ledger export file or a live service without trusting its database.

    ledger-verify export.txt [--vkey VKEY] [--checkpoint OLD.note ...]
    ledger-verify --url http://127.0.0.1:8001 [--vkey VKEY] [--checkpoint OLD.note ...] [--save export.txt]

Recomputes every leaf hash and the whole tree, checks that every entry sits at its position, checks each
signed checkpoint's signature and root, and checks the checkpoints you kept from earlier (a different
root at the same size is a fork). Exit 0 when sound; 1 with the entry and check that failed; 2 on usage.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import httpx

from services.common.ledger import merkle
from services.common.ledger.cosign import quorum
from services.common.ledger.note import Checkpoint, NoteError, NoteVerifier

EXPORT_FORMAT = "privacy-ledger-export/1"


class VerificationError(Exception):
    """The ledger is not sound; the message names the entry and the check."""


@dataclass
class Report:
    entries: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoints_checked: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    witnessed: list[str] = field(default_factory=list)  # the witnesses whose cosignature on the latest verified


class Progress:
    def __init__(self, total: int, out: IO[str] | None) -> None:
        self.total, self.out, self.last = max(total, 1), out, 0.0

    def update(self, done: int, force: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total)
        self.out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} entries")
        if force:
            self.out.write("\n")
        self.out.flush()


def verify_export(
    lines: Iterable[str] | Iterable[bytes],
    *,
    vkey: str | None = None,
    earlier: Iterable[str] = (),
    progress: IO[str] | None = None,
    witnesses: list[str] | None = None,
    quorum: int = 0,
) -> Report:
    """Verify a whole export read line by line; raise VerificationError on the first unsound point. With
    `witnesses` (their verifier keys), the latest checkpoint needs `quorum` of them to have cosigned it."""
    it: Iterator[str | bytes] = iter(lines)
    try:
        header = json.loads(next(it))
    except (StopIteration, json.JSONDecodeError) as exc:
        raise VerificationError("line 1: not an export header (JSON expected)") from exc
    if header.get("format") != EXPORT_FORMAT:
        raise VerificationError(f"line 1: unsupported format {header.get('format')!r}")
    if header.get("start", 0) != 0:
        raise VerificationError("line 1: a full verification needs an export that starts at entry 0")
    report = Report()
    if vkey is None:
        vkey = header["vkey"]
        report.warnings.append("trusting the signing key named in the export; pin it with --vkey")
    try:
        verifier = NoteVerifier(vkey)
    except NoteError as exc:
        raise VerificationError(f"verifier key: {exc}") from exc
    signed: dict[int, Checkpoint] = {}
    notes: dict[int, str] = {}
    for i, note in enumerate(header.get("checkpoints") or []):
        if note.split("\n", 1)[0] != verifier.name:  # another epoch's, after an acknowledged break
            report.warnings.append(f"checkpoint #{i + 1} is of origin {note.split(chr(10), 1)[0]!r}: not checked")
            continue
        cp = _open(verifier, note, f"export checkpoint #{i + 1}")
        notes[cp.size] = note
        if cp.size in signed and signed[cp.size].root != cp.root:
            raise VerificationError(f"checkpoints: two signed roots for size {cp.size}: the log forked")
        signed[cp.size] = cp
    kept: dict[int, Checkpoint] = {}
    for i, note in enumerate(earlier):
        cp = _open(verifier, note, f"earlier checkpoint #{i + 1}")
        kept.setdefault(cp.size, cp)
    end = int(header.get("end", 0))
    if not signed or max(signed) != end:
        raise VerificationError(f"the export ends at {end} but no checkpoint signs that size")
    if witnesses:
        report.witnessed = _witnessed(notes[end], witnesses, quorum, f"checkpoint {end}")
    wanted: dict[int, list[tuple[str, Checkpoint]]] = {}
    for kind, group in (("signed checkpoint", signed), ("earlier checkpoint", kept)):
        for s, c in group.items():
            wanted.setdefault(s, []).append((kind, c))
    for kind, cp in wanted.get(0, []):
        if cp.root != merkle.EMPTY_ROOT:
            raise VerificationError(f"{kind} at size 0: root is not the empty-tree hash")

    bar = Progress(end, progress)
    frontier: list[bytes] = []
    size = 0
    # The hot loop only hashes: a wrong root at a checkpoint sends the lines since the last good one to
    # _diagnose, which names the entry and the check. Long gaps between checkpoints are checked eagerly.
    pending: list[bytes] = []
    sha = hashlib.sha256
    stops = sorted(s for s in wanted if s > 0)
    stop_at = 0
    next_stop = stops[0] if stops else -1
    for raw in it:
        line = raw if isinstance(raw, bytes) else _as_line(raw)
        h = sha(b"\x00" + line[65:-1]).digest()  # "<64 hex leaf hash> <entry>\n"
        i = size
        while i & 1:
            h = sha(b"\x01" + frontier.pop() + h).digest()
            i >>= 1
        frontier.append(h)
        pending.append(line)
        size += 1
        if size == next_stop or len(pending) >= EAGER_CHECK_LINES:
            if size == next_stop:
                root = merkle.frontier_root(frontier)
                for kind, cp in wanted[size]:
                    if cp.root != root:
                        _diagnose(pending, size - len(pending))
                        _root_mismatch(kind, size)
                    report.checkpoints_checked.append(size)
                stop_at += 1
                next_stop = stops[stop_at] if stop_at < len(stops) else -1
            else:
                _diagnose(pending, size - len(pending))
            pending.clear()
            bar.update(size)
    bar.update(size, force=True)
    if size != end:
        _diagnose(pending, size - len(pending))
        raise VerificationError(f"entry {min(size, end)}: the export holds {size} entries but its header says {end}")
    for s in kept:
        if s > size:
            report.warnings.append(f"earlier checkpoint at size {s} is beyond this export ({size}); not checked")
    report.entries = size
    report.root = merkle.frontier_root(frontier)
    return report


EAGER_CHECK_LINES = 50_000


def _as_line(text: str) -> bytes:
    """Text lines (an HTTP line iterator, a file opened as text) as the bytes of a file line."""
    return text.encode() if text.endswith("\n") else text.encode() + b"\n"


def _diagnose(lines: list[bytes], first_seq: int) -> None:
    """Check each line fully; raise naming the first entry that fails, and which check."""
    for k, line in enumerate(lines):
        expected, line_no = first_seq + k, first_seq + k + 2
        stated_leaf, space, entry = line[:-1].partition(b" ")
        if not space or len(stated_leaf) != 64:
            raise VerificationError(f"line {line_no}: expected '<64 hex leaf hash> <entry>'")
        try:
            seq = json.loads(entry)["seq"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            seq = None
        if isinstance(seq, int) and seq != expected and merkle.leaf_hash(entry).hex().encode() == stated_leaf:
            what = "missing (removed)" if seq > expected else "repeated or out of order (inserted or reordered)"
            raise VerificationError(f"entry {expected}: expected at line {line_no}, found entry {seq}: entry {what}")
        if merkle.leaf_hash(entry).hex().encode() != stated_leaf:
            raise VerificationError(
                f"entry {expected}: its bytes do not hash to the leaf hash stored in the tree (entry changed)"
            )
        if seq != expected:
            raise VerificationError(f"entry {expected}: the entry says it is entry {seq} (moved)")


def _root_mismatch(kind: str, size: int) -> NoReturn:
    if kind == "earlier checkpoint":
        raise VerificationError(
            f"earlier checkpoint at size {size}: the log now has a different root there: the log forked "
            "or an entry before it changed"
        )
    raise VerificationError(
        f"signed checkpoint at size {size}: recomputed root differs: an entry before {size} was changed "
        "consistently with its leaf hash, or the checkpoint is forged"
    )


def _open(verifier: NoteVerifier, note: str, what: str) -> Checkpoint:
    try:
        return verifier.open(note)
    except NoteError as exc:
        raise VerificationError(f"{what}: {exc}") from exc


def verify_live(
    url: str,
    *,
    vkey: str | None,
    earlier: list[str],
    save: Path | None,
    progress: IO[str] | None,
    witnesses: list[str] | None = None,
    quorum: int = 0,
) -> Report:
    base = url.rstrip("/")
    with httpx.Client(timeout=60) as client:
        if vkey is None:
            vkey = client.get(f"{base}/ledger/public-key").raise_for_status().json()["vkey"]
        verifier = NoteVerifier(vkey)
        latest = _open(verifier, client.get(f"{base}/ledger/checkpoint").raise_for_status().text, "live checkpoint")
        for i, note in enumerate(earlier):
            old = _open(verifier, note, f"earlier checkpoint #{i + 1}")
            if old.size > latest.size:
                raise VerificationError(
                    f"earlier checkpoint at size {old.size} is beyond the live log ({latest.size}):"
                    " the log was truncated or forked"
                )
            body = (
                client.get(f"{base}/ledger/proof/consistency", params={"old_size": old.size, "new_size": latest.size})
                .raise_for_status()
                .json()
            )
            try:
                merkle.verify_consistency(
                    old.size, latest.size, old.root, latest.root, [base64.b64decode(p) for p in body["proof"]]
                )
            except merkle.ProofError as exc:
                raise VerificationError(
                    f"earlier checkpoint at size {old.size}: consistency with the live "
                    f"checkpoint {latest.size} fails: {exc}"
                ) from exc
        with client.stream("GET", f"{base}/ledger/entries", params={"end": latest.size}) as response:
            response.raise_for_status()
            lines = response.iter_lines()
            if save is not None:
                lines = _tee(lines, save)
            report = verify_export(
                lines, vkey=vkey, earlier=earlier, progress=progress, witnesses=witnesses, quorum=quorum
            )
    return report


def _witnessed(note: str, witnesses: list[str], needed: int, what: str) -> list[str]:
    try:
        return quorum(note, witnesses, max(needed, 1))
    except NoteError as exc:
        raise VerificationError(f"{what}: {exc}") from exc


def verify_proof(
    proof: dict[str, object], *, vkey: str, witnesses: list[str] | None = None, needed: int = 0
) -> Checkpoint:
    """One entry's inclusion proof as served (GET /ledger/proof/inclusion, or saved from the privacy centre's
    "Check this proof yourself"), checked offline: the entry hashes to its leaf, the audit path leads from
    it to the checkpoint's root, and the checkpoint is signed by `vkey`. Returns the checkpoint."""
    try:
        entry = base64.b64decode(str(proof["entry"]), validate=True)
        seq, size = int(str(proof["seq"])), int(str(proof["tree_size"]))
        path = [base64.b64decode(str(h), validate=True) for h in proof["proof"]]  # type: ignore[attr-defined]
        note = str(proof["checkpoint"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"not an inclusion proof: {exc}") from exc
    leaf = merkle.leaf_hash(entry)
    if proof.get("leaf_hash") not in (None, base64.b64encode(leaf).decode()):
        raise VerificationError("the entry does not hash to the proof's leaf")
    try:
        checkpoint = NoteVerifier(vkey).open(note)
    except NoteError as exc:
        raise VerificationError(f"checkpoint: {exc}") from exc
    if checkpoint.size != size:
        raise VerificationError(f"the proof is for size {size}, the checkpoint for {checkpoint.size}")
    if witnesses:
        _witnessed(note, witnesses, needed, "checkpoint")
    try:
        merkle.verify_inclusion(seq, size, leaf, path, checkpoint.root)
    except merkle.ProofError as exc:
        raise VerificationError(f"inclusion: {exc}") from exc
    return checkpoint


def _tee(lines: Iterator[str], path: Path) -> Iterator[str]:
    with path.open("w") as out:
        for line in lines:
            out.write(line + "\n")
            yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger-verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export", nargs="?", type=Path, help="an export file (GET /ledger/entries)")
    parser.add_argument("--url", help="verify a live service instead, e.g. http://127.0.0.1:8001")
    parser.add_argument("--vkey", help="the ledger's verifier key (GET /ledger/public-key); pin it")
    parser.add_argument(
        "--checkpoint", action="append", default=[], type=Path, help="a checkpoint note you kept earlier (repeatable)"
    )
    parser.add_argument("--save", type=Path, help="with --url: also write the export to this file")
    parser.add_argument(
        "--proof", type=Path, help="check one entry's inclusion proof (its JSON, as served) offline; needs --vkey"
    )
    parser.add_argument(
        "--witness", action="append", default=[], help="a witness's verifier key you trust (repeatable)"
    )
    parser.add_argument(
        "--quorum", type=int, default=None, help="how many of the --witness keys must have cosigned (default all)"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quorum is not None and not 1 <= args.quorum <= len(args.witness):
        parser.error(f"--quorum must be between 1 and the number of --witness keys ({len(args.witness)})")
    needed = args.quorum if args.quorum is not None else len(args.witness)
    if args.proof is not None:
        return _one_proof(parser, args.proof, args.vkey, args.witness, needed)
    if (args.export is None) == (args.url is None):
        parser.error("give an export file or --url, not both")
    earlier = [p.read_text() for p in args.checkpoint]
    progress = None if args.no_progress else sys.stderr
    try:
        if args.url:
            report = verify_live(
                args.url,
                vkey=args.vkey,
                earlier=earlier,
                save=args.save,
                progress=progress,
                witnesses=args.witness,
                quorum=needed,
            )
        else:
            with args.export.open("rb") as fh:
                report = verify_export(
                    fh, vkey=args.vkey, earlier=earlier, progress=progress, witnesses=args.witness, quorum=needed
                )
    except VerificationError as exc:
        print(f"ledger-verify: NOT SOUND: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, httpx.HTTPError) as exc:
        print(f"ledger-verify: cannot verify: {exc}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(f"ledger-verify: warning: {warning}", file=sys.stderr)
    sizes = report.checkpoints_checked
    shown = ", ".join(str(s) for s in sizes[-5:]) + (" …" if len(sizes) > 5 else "")
    print(
        f"ledger-verify: sound: {report.entries} entries, root {report.root.hex()}, "
        f"{len(sizes)} checkpoint(s) verified (sizes {shown})"
        + (f"; cosigned by {', '.join(report.witnessed)}" if report.witnessed else "")
    )
    return 0


def _one_proof(parser: argparse.ArgumentParser, path: Path, vkey: str | None, witnesses: list[str], needed: int) -> int:
    if not vkey:
        parser.error("--proof needs --vkey: the key you trust the ledger's checkpoints to be signed with")
    try:
        checkpoint = verify_proof(json.loads(path.read_text()), vkey=vkey, witnesses=witnesses, needed=needed)
    except VerificationError as exc:
        print(f"ledger-verify: NOT SOUND: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"ledger-verify: cannot verify: {exc}", file=sys.stderr)
        return 2
    print(f"ledger-verify: sound: the entry is in the log of {checkpoint.size} entries, signed by {checkpoint.origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
