"""Small datasets written in the formats.md contract, for service tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

T0 = "2026-10-01T12:00:00Z"


def account(i: int, **over: Any) -> dict[str, Any]:
    row = {"account_id": f"acc_{i:04d}", "handle": f"@user{i}", "email": f"user{i}@example.com", "country": "US",
           "birth_date": "1990-01-01", "kind": "viewer", "status": "active", "created_at": T0,
           "coin_balance": 0, "diamond_balance": 0}
    row.update(over)
    return row


def minimal(n_accounts: int = 3) -> dict[str, list[dict[str, Any]]]:
    accounts = [account(i) for i in range(n_accounts)]
    accounts[0]["coin_balance"] = 70
    return {
        "regions": [{"country": "US", "currency": "USD", "coin_purchase": True, "gifting": True, "cashout": True,
                     "min_age": 18, "stores": ["apple", "google", "web"], "valid_from": "2024-01-01T00:00:00Z"}],
        "price_points": [{"country": "US", "store": "web", "product_id": "coins_70", "coins": 70, "price_minor": 99,
                          "currency": "USD", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None}],
        "gifts": [{"gift_id": "rose", "name": "Rose", "coins": 1, "diamonds": 0}],
        "accounts": accounts,
        "purchases": [{"purchase_id": "pur_0001", "account_id": "acc_0000", "store": "web",
                       "store_transaction_id": "ch_abc123", "product_id": "coins_70", "coins": 70, "price_minor": 99,
                       "currency": "USD", "country": "US", "purchased_at": T0, "status": "completed"}],
        "ledger": [{"entry_id": "le_0001", "account_id": "acc_0000", "asset": "coin", "amount": 70, "kind": "purchase",
                    "ref": "pur_0001", "at": T0, "actor": "system"}],
        "tickets": [{"ticket_id": "T-1001", "account_id": "acc_0000", "subject": "Where are my coins?", "body": "",
                     "category": "missing_coins", "status": "open", "created_at": T0}],
    }


def write_dataset(root: Path, files: dict[str, list[dict[str, Any]]], raw: dict[str, str] | None = None) -> Path:
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        (app / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name, content in (raw or {}).items():
        (app / f"{name}.jsonl").write_text(content)
    return root
