"""Checkpoints: the audit chain's head, signed with a key the database does not hold.

Anyone who can write to the database can rewrite the hash chain and recompute every hash after the record they
changed, or cut records off its end; the chain alone then still verifies. A checkpoint is a line
`{seq, hash, records, at, key, signature}` signed with Ed25519 and appended to a file that is shipped elsewhere
(a log host, a ticket, a git repository). Verifying against checkpoints detects a rewritten chain (the record at a
checkpointed seq no longer has the signed hash) and a cut-off tail (the chain ends before the last checkpoint).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func
from sqlmodel import Session, col, select

from supportdesk.db.models import AuditRecord
from supportdesk.errors import ConfigError, InvalidInput


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create the file with its mode from the start (never write-then-chmod); refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise InvalidInput(f"{path} already exists; not overwriting a key") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def public_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def generate_key(path: Path) -> dict[str, Any]:
    """A new Ed25519 signing key (0600) and its public half beside it (`PATH.pub`, 0644)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    _write_new(path, pem, 0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(public_path(path), pub, 0o644)
    return {"private_key": str(path), "public_key": str(public_path(path)), "key_id": key_id(key.public_key())}


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, "signing key"), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return load_private(path).public_key()  # a private key file holds its public half too
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key


def _message(cp: dict[str, Any]) -> bytes:
    body = {k: cp[k] for k in ("seq", "hash", "records", "at")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def chain_head(session: Session) -> tuple[int, str, int]:
    """(seq, hash, number of records) of the newest audit record; (0, '', 0) for an empty chain."""
    last = session.exec(select(AuditRecord).order_by(col(AuditRecord.seq).desc()).limit(1)).first()
    if last is None or last.seq is None:
        return 0, "", 0
    count = session.exec(select(func.count()).select_from(AuditRecord)).one()
    return last.seq, last.hash, int(count)


def checkpoint(session: Session, key_path: Path, log_path: Path) -> dict[str, Any]:
    """Sign the chain head and append the checkpoint to `log_path` (one JSON line)."""
    key = load_private(key_path)
    seq, head, records = chain_head(session)
    if not records:
        raise InvalidInput("the audit log is empty: nothing to checkpoint yet")
    cp: dict[str, Any] = {"seq": seq, "hash": head, "records": records,
                          "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    cp["key_id"] = key_id(key.public_key())
    cp["signature"] = base64.b64encode(key.sign(_message(cp))).decode()
    line = (json.dumps(cp, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise InvalidInput(f"cannot append to {log_path}: {exc.strerror}") from exc
    with os.fdopen(fd, "ab") as f:
        f.write(line)
    return cp


@dataclass(frozen=True, slots=True)
class CheckpointProblem:
    line: int
    seq: int
    problem: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "seq": self.seq, "problem": self.problem}


def _parse(log_path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, raw in enumerate(_read(log_path, "checkpoint file").decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            cp = json.loads(raw)
            int(cp["seq"]), str(cp["hash"]), int(cp["records"]), str(cp["at"]), str(cp["signature"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{log_path}:{number}: not a checkpoint line") from exc
        out.append((number, cp))
    return out


def verify_checkpoints(session: Session, log_path: Path, public_key: Path) -> dict[str, Any]:
    """Each checkpoint's signature, then the chain against it: the signed hash at its seq, nothing cut off."""
    key = load_public(public_key)
    checkpoints = _parse(log_path)
    problems: list[CheckpointProblem] = []
    last_seq, _, _ = chain_head(session)
    for number, cp in checkpoints:
        try:
            key.verify(base64.b64decode(cp["signature"]), _message(cp))
        except (InvalidSignature, ValueError):
            problems.append(CheckpointProblem(number, cp["seq"], "signature does not verify with the public key"))
            continue
        rec = session.get(AuditRecord, cp["seq"])
        if rec is None and cp["seq"] > last_seq:
            problems.append(CheckpointProblem(
                number, cp["seq"], f"the chain ends at record {last_seq}, before this checkpoint (tail cut off)"))
        elif rec is None:
            problems.append(CheckpointProblem(number, cp["seq"], "the checkpointed record is missing (removed)"))
        elif rec.hash != cp["hash"]:
            problems.append(CheckpointProblem(
                number, cp["seq"], "the record's hash differs from the signed one (chain rewritten)"))
        else:
            upto = session.exec(select(func.count()).select_from(AuditRecord)
                                .where(col(AuditRecord.seq) <= cp["seq"])).one()
            if int(upto) != cp["records"]:
                problems.append(CheckpointProblem(
                    number, cp["seq"], f"{upto} records up to it, {cp['records']} when signed (records removed)"))
    return {"checkpoints": len(checkpoints), "key_id": key_id(key), "verified": not problems,
            "problems": [p.to_json() for p in problems]}
