"""Load a dataset's ``store/`` folder (formats.md section 1) into plain dicts.

Every problem names the file, the line and the field, so a broken dataset is fixed at the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APPLE_FILE = "apple/transactions.jsonl"
GOOGLE_FILE = "google/purchases.jsonl"
CHARGES_FILE = "web/charges.jsonl"
DISPUTES_FILE = "web/disputes.jsonl"

# field -> accepted JSON types; Google's millisecond fields are strings in the API but ints are tolerated.
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    APPLE_FILE: {"transactionId": (str,), "productId": (str,), "purchaseDate": (int,)},
    GOOGLE_FILE: {
        "orderId": (str,),
        "purchaseToken": (str,),
        "productId": (str,),
        "purchaseTimeMillis": (str, int),
    },
    CHARGES_FILE: {"id": (str,), "amount": (int,), "currency": (str,), "created": (int,)},
    DISPUTES_FILE: {"id": (str,), "charge": (str,), "amount": (int,), "currency": (str,), "created": (int,)},
}
_OPTIONAL_INTS: dict[str, tuple[str, ...]] = {
    APPLE_FILE: ("revocationDate", "consumptionRequestDate", "price", "quantity"),
    GOOGLE_FILE: ("voidedTimeMillis", "purchaseState", "quantity", "priceAmountMicros"),
    CHARGES_FILE: ("amount_refunded",),
    DISPUTES_FILE: (),
}
_UNIQUE: dict[str, tuple[str, ...]] = {
    APPLE_FILE: ("transactionId",),
    GOOGLE_FILE: ("purchaseToken", "orderId"),
    CHARGES_FILE: ("id",),
    DISPUTES_FILE: ("id",),
}


class StoreDataError(Exception):
    """A dataset the emulator cannot serve; the message names file, line and field."""


@dataclass
class StoreRecords:
    apple: list[dict[str, Any]] = field(default_factory=list)
    google: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)


def load_store(data_dir: Path) -> StoreRecords:
    """Read ``data_dir/store``; ``data_dir`` may also be the store folder itself."""
    store = data_dir / "store" if (data_dir / "store").is_dir() else data_dir
    if not (store / "apple").is_dir() and not (store / "google").is_dir():
        raise StoreDataError(f"{data_dir}: no store/ folder (expected {data_dir / 'store'})")
    records = StoreRecords(
        apple=_read(store, APPLE_FILE),
        google=_read(store, GOOGLE_FILE),
        charges=_read(store, CHARGES_FILE),
        disputes=_read(store, DISPUTES_FILE, optional=True),
    )
    charge_ids = {c["id"] for c in records.charges}
    for number, dispute in enumerate(records.disputes, start=1):
        if dispute["charge"] not in charge_ids:
            raise StoreDataError(f"{store / DISPUTES_FILE}:{number}: charge: unknown charge {dispute['charge']!r}")
    return records


def _read(store: Path, name: str, optional: bool = False) -> list[dict[str, Any]]:
    path = store / name
    if not path.is_file():
        if optional:
            return []
        raise StoreDataError(f"{path}: file is missing")
    seen: dict[str, set[Any]] = {key: set() for key in _UNIQUE[name]}
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                rows.append(_parse_line(f"{path}:{number}", line, name, seen))
    return rows


def _parse_line(where: str, line: str, name: str, seen: dict[str, set[Any]]) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise StoreDataError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise StoreDataError(f"{where}: expected a JSON object")
    for key, types in _REQUIRED[name].items():
        if key not in row:
            raise StoreDataError(f"{where}: {key}: missing required field")
        _check_type(where, key, row[key], types)
    for key in _OPTIONAL_INTS[name]:
        if row.get(key) is not None:
            _check_type(where, key, row[key], (int, str) if key.endswith("Millis") else (int,))
    for key, values in seen.items():
        if row[key] in values:
            raise StoreDataError(f"{where}: {key}: duplicate {row[key]!r}")
        values.add(row[key])
    return row


def _check_type(where: str, key: str, value: Any, types: tuple[type, ...]) -> None:
    # bool is an int subclass in Python but never a valid amount or timestamp.
    if isinstance(value, bool) or not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in types)
        raise StoreDataError(f"{where}: {key}: expected {expected}, got {type(value).__name__}")
    if isinstance(value, str) and key.endswith("Millis") and not value.isdigit():
        raise StoreDataError(f"{where}: {key}: expected milliseconds, got {value!r}")
