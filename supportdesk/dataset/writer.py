"""Writes a World as the dataset directory of formats.md section 1."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import date, datetime
from pathlib import Path

from supportdesk.dataset.catalog import PricePoint, RegionRow
from supportdesk.dataset.units import iso
from supportdesk.dataset.world import World

APP_FILES = (
    "regions",
    "price_points",
    "gifts",
    "accounts",
    "purchases",
    "ledger",
    "gift_events",
    "cashouts",
    "tickets",
)
STORE_FILES = ("apple/transactions", "google/purchases", "web/charges", "web/disputes")
# Optional fields written only when set; every other None is written as null (only price_points.valid_to).
OPTIONAL = {"note", "bonus_coins", "birth_date", "apple_app_account_token", "web_customer_id", "ref", "reason"}


def plain(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def row(record: object, skip: frozenset[str] = frozenset()) -> dict:
    out = {}
    for f in fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if f.name in skip or (value is None and f.name in OPTIONAL):
            continue
        out[f.name] = plain(value)
    return out


# One encoder for every line: json.dumps with options would build a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dump(line: dict) -> str:
    return _ENCODER.encode(line) + "\n"


def write_lines(path: Path, lines: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(dump(line) for line in lines)


def region_line(r: RegionRow) -> dict:
    return row(r)


def price_line(p: PricePoint) -> dict:
    return row(p, frozenset({"is_promo"}))


def write_world(out_dir: Path, world: World) -> None:
    cat, app, store = world.catalog, out_dir / "app", out_dir / "store"
    write_lines(app / "regions.jsonl", (region_line(r) for r in cat.regions))
    write_lines(app / "price_points.jsonl", (price_line(p) for p in cat.price_points))
    write_lines(app / "gifts.jsonl", (asdict(g) for g in cat.gifts))
    write_lines(app / "accounts.jsonl", (row(a) for a in sorted(world.accounts, key=lambda a: a.created_at)))
    write_lines(app / "purchases.jsonl", (row(p) for p in sorted(world.purchases, key=lambda p: p.purchased_at)))
    write_lines(app / "ledger.jsonl", (row(e) for e in sorted(world.ledger, key=lambda e: e.at)))
    write_lines(app / "gift_events.jsonl", (row(g) for g in sorted(world.gift_events, key=lambda g: g.at)))
    write_lines(app / "cashouts.jsonl", (row(c) for c in sorted(world.cashouts, key=lambda c: c.at)))
    write_lines(app / "tickets.jsonl", (row(t) for t in world.tickets))
    by_store = {
        s: sorted((x for x in world.sales if x.store == s), key=lambda x: x.at) for s in ("apple", "google", "web")
    }
    write_lines(store / "apple" / "transactions.jsonl", (s.record for s in by_store["apple"]))
    write_lines(store / "google" / "purchases.jsonl", (s.record for s in by_store["google"]))
    write_lines(store / "web" / "charges.jsonl", (s.record for s in by_store["web"]))
    write_lines(store / "web" / "disputes.jsonl", sorted(world.disputes, key=lambda d: d["created"]))
