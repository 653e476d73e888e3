"""A large, valid dataset written fast by streaming, for benchmarks (not the realistic demo generator)."""

from __future__ import annotations

import json
from pathlib import Path

T = "2026-06-01T12:00:00Z"


def write(root: Path, *, accounts: int, entries: int) -> Path:
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "regions.jsonl").write_text(json.dumps({
        "country": "US", "currency": "USD", "coin_purchase": True, "gifting": True, "cashout": True,
        "min_age": 18, "stores": ["apple", "google", "web"], "valid_from": "2024-01-01T00:00:00Z"}) + "\n")
    (app / "price_points.jsonl").write_text("")
    (app / "gifts.jsonl").write_text("")
    with (app / "accounts.jsonl").open("w") as fh:
        for i in range(accounts):
            fh.write(json.dumps({
                "account_id": f"acc_{i:08d}", "handle": f"@fan{i:08d}", "email": f"fan{i}@example.com",
                "country": "US", "kind": "viewer", "status": "active", "created_at": T, "coin_balance": 0,
                "diamond_balance": 0, "apple_app_account_token": None, "web_customer_id": f"cus_{i:08d}"}) + "\n")
    with (app / "purchases.jsonl").open("w") as fh:
        for i in range(accounts):
            fh.write(json.dumps({
                "purchase_id": f"pur_{i:08d}", "account_id": f"acc_{i:08d}", "store": "web",
                "store_transaction_id": f"ch_{i:024d}", "product_id": "coins_70", "coins": 70, "price_minor": 99,
                "currency": "USD", "country": "US", "purchased_at": T, "status": "completed"}) + "\n")
    with (app / "ledger.jsonl").open("w") as fh:
        for i in range(entries):
            fh.write(json.dumps({
                "entry_id": f"le_{i:010d}", "account_id": f"acc_{i % accounts:08d}", "asset": "coin",
                "amount": 70, "kind": "purchase", "ref": f"pur_{i % accounts:08d}", "at": T,
                "actor": "system"}) + "\n")
    return root
