"""The generated dataset keeps formats.md section 1, and every planted case really holds in the files.

The checks below re-derive each finding and flag from the files alone, with their own small implementations of
the rules in formats.md section 2, so they do not trust the generator's bookkeeping.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pycountry
import pytest
from babel.numbers import get_currency_precision

from supportdesk.dataset import MIN_ACCOUNTS, generate
from supportdesk.dataset.__main__ import main
from supportdesk.dataset.generate import per_kind
from supportdesk.dataset.scaled import write_scaled

NOW = datetime(2026, 11, 1, tzinfo=UTC)
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "small"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY = timedelta(days=1)

FILES = {
    "app/regions.jsonl", "app/price_points.jsonl", "app/gifts.jsonl", "app/accounts.jsonl",
    "app/purchases.jsonl", "app/ledger.jsonl", "app/gift_events.jsonl", "app/cashouts.jsonl", "app/tickets.jsonl",
    "store/apple/transactions.jsonl", "store/google/purchases.jsonl", "store/web/charges.jsonl",
    "store/web/disputes.jsonl",
}

# Field -> type per file; "ts" is an ISO UTC timestamp, "?" marks optional fields.
SCHEMA: dict[str, dict[str, object]] = {
    "app/regions.jsonl": {"country": str, "currency": str, "coin_purchase": bool, "gifting": bool, "cashout": bool,
                          "min_age": int, "stores": list, "valid_from": "ts", "note?": str},
    "app/price_points.jsonl": {"country": str, "store": str, "product_id": str, "coins": int, "price_minor": int,
                               "currency": str, "valid_from": "ts", "valid_to": ("ts", None), "bonus_coins?": int},
    "app/gifts.jsonl": {"gift_id": str, "name": str, "coins": int, "diamonds": int},
    "app/accounts.jsonl": {"account_id": str, "handle": str, "email": str, "country": str, "birth_date?": "date",
                           "kind": str, "status": str, "created_at": "ts", "coin_balance": int,
                           "diamond_balance": int, "apple_app_account_token?": str, "web_customer_id?": str},
    "app/purchases.jsonl": {"purchase_id": str, "account_id": str, "store": str, "store_transaction_id": str,
                            "product_id": str, "coins": int, "price_minor": int, "currency": str, "country": str,
                            "purchased_at": "ts", "status": str},
    "app/ledger.jsonl": {"entry_id": str, "account_id": str, "asset": str, "amount": int, "kind": str,
                         "ref?": str, "at": "ts", "actor": str, "reason?": str},
    "app/gift_events.jsonl": {"event_id": str, "sender_id": str, "creator_id": str, "gift_id": str,
                              "quantity": int, "coins": int, "diamonds": int, "at": "ts"},
    "app/cashouts.jsonl": {"cashout_id": str, "creator_id": str, "diamonds": int, "amount_minor": int,
                           "currency": str, "status": str, "at": "ts"},
    "app/tickets.jsonl": {"ticket_id": str, "account_id": str, "subject": str, "body": str, "category": str,
                          "status": str, "created_at": "ts"},
    "store/apple/transactions.jsonl": {
        "transactionId": str, "originalTransactionId": str, "bundleId": str, "productId": str, "type": str,
        "quantity": int, "purchaseDate": int, "storefront": str, "price": int, "currency": str,
        "appAccountToken": str, "environment": str, "inAppOwnershipType": str, "revocationDate?": int,
        "revocationReason?": int, "revocationType?": str, "consumptionRequestDate?": int},
    "store/google/purchases.jsonl": {
        "orderId": str, "purchaseToken": str, "productId": str, "purchaseTimeMillis": str, "purchaseState": int,
        "consumptionState": int, "acknowledgementState": int, "quantity": int, "regionCode": str,
        "obfuscatedExternalAccountId": str, "priceAmountMicros": int, "priceCurrencyCode": str,
        "voidedTimeMillis?": str, "voidedSource?": int, "voidedReason?": int},
    "store/web/charges.jsonl": {
        "id": str, "amount": int, "currency": str, "customer": str, "created": int, "status": str, "refunded": bool,
        "amount_refunded": int, "disputed": bool, "billing_country": str, "card_fingerprint": str,
        "metadata": dict, "refunds?": list},
    "store/web/disputes.jsonl": {"id": str, "charge": str, "amount": int, "currency": str, "status": str,
                                 "reason": str, "created": int},
}
ENUMS = {
    ("app/accounts.jsonl", "kind"): {"viewer", "creator"},
    ("app/accounts.jsonl", "status"): {"active", "limited", "suspended", "banned"},
    ("app/purchases.jsonl", "status"): {"completed", "pending", "refunded", "revoked", "charged_back"},
    ("app/purchases.jsonl", "store"): {"apple", "google", "web"},
    ("app/price_points.jsonl", "store"): {"apple", "google", "web"},
    ("app/ledger.jsonl", "asset"): {"coin", "diamond"},
    ("app/ledger.jsonl", "kind"): {"purchase", "gift_sent", "gift_received", "refund_clawback", "grant",
                                   "adjustment", "cashout", "reversal"},
    ("app/cashouts.jsonl", "status"): {"requested", "paid", "held", "rejected"},
    ("app/tickets.jsonl", "category"): {"missing_coins", "refund_request", "wrong_amount", "region", "other"},
}


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def from_ms(ms: int | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def load(root: Path) -> dict[str, list[dict]]:
    return {name: [json.loads(line) for line in (root / name).read_text("utf-8").splitlines()] for name in FILES}


@dataclass
class Data:
    """The files, indexed the way the checks need them."""

    files: dict[str, list[dict]]
    manifest: dict

    def __post_init__(self) -> None:
        f = self.files
        self.accounts = {a["account_id"]: a for a in f["app/accounts.jsonl"]}
        self.purchases = {p["purchase_id"]: p for p in f["app/purchases.jsonl"]}
        self.by_txn = {p["store_transaction_id"]: p for p in f["app/purchases.jsonl"]}
        self.ledger = f["app/ledger.jsonl"]
        self.apple = {r["transactionId"]: r for r in f["store/apple/transactions.jsonl"]}
        self.google = {r["orderId"]: r for r in f["store/google/purchases.jsonl"]}
        self.web = {r["id"]: r for r in f["store/web/charges.jsonl"]}
        self.disputes = f["store/web/disputes.jsonl"]
        self.regions = f["app/regions.jsonl"]
        self.prices = f["app/price_points.jsonl"]
        self.credits = Counter(e["ref"] for e in self.ledger if e["kind"] == "purchase")
        self.clawbacks = Counter(e["ref"] for e in self.ledger if e["kind"] == "refund_clawback")
        self.price_rows: dict[tuple, list[dict]] = defaultdict(list)
        for row in self.prices:
            self.price_rows[row["country"], row["store"], row["product_id"]].append(row)
        self.sums: Counter = Counter()
        for e in self.ledger:
            self.sums[e["account_id"], e["asset"]] += e["amount"]

    def store_records(self) -> list[tuple[str, str, dict]]:
        return ([("apple", k, r) for k, r in self.apple.items()] + [("google", k, r) for k, r in self.google.items()]
                + [("web", k, r) for k, r in self.web.items()])

    def ledger_sum(self, account_id: str, asset: str) -> int:
        return self.sums[account_id, asset]

    def region_at(self, country: str, at: datetime) -> dict | None:
        rows = [r for r in self.regions if r["country"] == country and ts(r["valid_from"]) <= at]
        return max(rows, key=lambda r: r["valid_from"]) if rows else None

    def prices_in_force(self, country: str, store: str, product: str, at: datetime) -> list[int]:
        return [p["price_minor"] for p in self.price_rows[country, store, product]
                if ts(p["valid_from"]) <= at and (p["valid_to"] is None or at < ts(p["valid_to"]))]

    def usd(self, p: dict) -> Fraction:
        at = ts(p["purchased_at"])
        local = self.prices_in_force(p["country"], p["store"], p["product_id"], at)
        base = p["price_minor"] if p["price_minor"] in local else local[0]
        us = max(self.prices_in_force("US", p["store"], p["product_id"], at))
        return Fraction(p["price_minor"] * us, base)

    def store_refund_times(self) -> dict[str, datetime]:
        """Store transaction id -> when the store refunded, revoked, voided or lost a dispute."""
        out = {k: from_ms(r["revocationDate"]) for k, r in self.apple.items() if "revocationDate" in r}
        out |= {k: from_ms(r["voidedTimeMillis"]) for k, r in self.google.items() if "voidedTimeMillis" in r}
        out |= {k: datetime.fromtimestamp(r["refunds"][0]["created"], UTC)
                for k, r in self.web.items() if r["refunded"] or r["amount_refunded"]}
        out |= {d["charge"]: datetime.fromtimestamp(d["created"], UTC) for d in self.disputes if d["status"] == "lost"}
        return out

    def planted(self, kind: str) -> set[tuple]:
        return {(f["account_id"], f["store_transaction_id"]) for f in self.manifest["findings"] if f["kind"] == kind}

    def flagged(self, rule: str) -> set[str]:
        return {f["purchase_id"] for f in self.manifest["flags"] if f["rule"] == rule}

    def flagged_accounts(self, rule: str) -> set[str]:
        return {f["account_id"] for f in self.manifest["flags"] if f["rule"] == rule}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    generate(root, seed=11, accounts=300, now=NOW)
    return root


@pytest.fixture(scope="module")
def data(out: Path) -> Data:
    return Data(load(out), json.loads((out / "planted.json").read_text()))


# --- shape ------------------------------------------------------------------------------------------------------


def check_type(value: object, expected: object) -> bool:
    if isinstance(expected, tuple):
        return any(check_type(value, e) for e in expected)
    if expected is None:
        return value is None
    if expected == "ts":
        return isinstance(value, str) and bool(TS.match(value))
    if expected == "date":
        return isinstance(value, str) and date.fromisoformat(value) is not None
    if expected is int:
        return type(value) is int
    return isinstance(value, expected)  # type: ignore[arg-type]


def test_every_line_has_the_contract_fields_with_the_right_types(data: Data, allow_empty: bool = False) -> None:
    for name, schema in SCHEMA.items():
        rows = data.files[name]
        assert rows or allow_empty, name
        for n, line in enumerate(rows, 1):
            for key, expected in schema.items():
                field = key.rstrip("?")
                if key.endswith("?") and field not in line:
                    continue
                assert field in line, f"{name}:{n} lacks {field}"
                assert check_type(line[field], expected), f"{name}:{n} {field}={line[field]!r}"
                if (name, field) in ENUMS:
                    assert line[field] in ENUMS[name, field], f"{name}:{n} {field}={line[field]!r}"


def test_countries_currencies_and_handles_are_well_formed(data: Data) -> None:
    for a in data.accounts.values():
        assert pycountry.countries.get(alpha_2=a["country"]) is not None
        assert re.fullmatch(r"@[^\s@]{1,63}", a["handle"]) and "@" in a["email"]
        assert re.fullmatch(r"acc_[0-9a-z]{10}", a["account_id"])
    for p in data.purchases.values():
        assert pycountry.currencies.get(alpha_3=p["currency"]) is not None
    for r in data.regions:
        assert set(r["stores"]) <= {"apple", "google", "web"}
    assert ts(data.manifest["now"]) == NOW


def test_ids_are_unique(data: Data) -> None:
    f = data.files
    keys = [
        ("app/accounts.jsonl", "account_id"), ("app/accounts.jsonl", "handle"), ("app/purchases.jsonl", "purchase_id"),
        ("app/purchases.jsonl", "store_transaction_id"), ("app/ledger.jsonl", "entry_id"),
        ("app/gift_events.jsonl", "event_id"), ("app/cashouts.jsonl", "cashout_id"), ("app/tickets.jsonl", "ticket_id"),
        ("app/gifts.jsonl", "gift_id"), ("store/apple/transactions.jsonl", "transactionId"),
        ("store/google/purchases.jsonl", "orderId"), ("store/google/purchases.jsonl", "purchaseToken"),
        ("store/web/charges.jsonl", "id"), ("store/web/disputes.jsonl", "id"),
    ]
    for name, key in keys:
        values = [row[key] for row in f[name]]
        assert len(values) == len(set(values)), f"duplicate {key} in {name}"
    tokens = [a["apple_app_account_token"] for a in data.accounts.values() if "apple_app_account_token" in a]
    assert len(tokens) == len(set(tokens))
    handles = [a["handle"].lower() for a in data.accounts.values()]
    assert len(handles) == len(set(handles)), "handles are unique whatever their case"


def test_references_resolve(data: Data) -> None:
    f, accounts = data.files, data.accounts
    events = {g["event_id"]: g for g in f["app/gift_events.jsonl"]}
    cashouts = {c["cashout_id"] for c in f["app/cashouts.jsonl"]}
    tickets = {t["ticket_id"] for t in f["app/tickets.jsonl"]}
    gifts = {g["gift_id"] for g in f["app/gifts.jsonl"]}
    refs = {"purchase": data.purchases, "refund_clawback": data.purchases, "gift_sent": events,
            "gift_received": events, "cashout": cashouts, "grant": tickets}
    for p in data.purchases.values():
        assert p["account_id"] in accounts
    for e in data.ledger:
        assert e["account_id"] in accounts and e["ref"] in refs[e["kind"]], e
    for g in events.values():
        assert g["sender_id"] in accounts and accounts[g["creator_id"]]["kind"] == "creator" and g["gift_id"] in gifts
    for c in f["app/cashouts.jsonl"]:
        assert accounts[c["creator_id"]]["kind"] == "creator"
    for t in f["app/tickets.jsonl"]:
        assert t["account_id"] in accounts
    assert {d["charge"] for d in data.disputes} <= set(data.web)


def test_store_records_point_at_their_account(data: Data) -> None:
    by_token = {a["apple_app_account_token"]: a for a in data.accounts.values() if "apple_app_account_token" in a}
    by_customer = {a["web_customer_id"]: a for a in data.accounts.values() if "web_customer_id" in a}
    for r in data.apple.values():
        assert r["appAccountToken"] in by_token
    for r in data.google.values():
        assert r["obfuscatedExternalAccountId"] in data.accounts
    for r in data.web.values():
        assert by_customer[r["customer"]]["account_id"] == r["metadata"]["account_id"]


# --- units ------------------------------------------------------------------------------------------------------


def test_store_units_convert_back_exactly_to_our_minor_units(data: Data) -> None:
    seen = set()
    for store, txn, r in data.store_records():
        p = data.by_txn.get(txn)
        if p is None:
            continue
        digits = get_currency_precision(p["currency"])
        if store == "apple":
            whole, rest = divmod(r["price"], 10 ** (3 - digits))
            assert (whole, rest, r["currency"]) == (p["price_minor"], 0, p["currency"])
            assert pycountry.countries.get(alpha_3=r["storefront"]).alpha_2 == p["country"]
            assert r["purchaseDate"] // 1000 == int(ts(p["purchased_at"]).timestamp())
            assert r["appAccountToken"] == data.accounts[p["account_id"]]["apple_app_account_token"]
        elif store == "google":
            whole, rest = divmod(r["priceAmountMicros"], 10 ** (6 - digits))
            assert (whole, rest, r["priceCurrencyCode"]) == (p["price_minor"], 0, p["currency"])
            assert r["regionCode"] == p["country"] and r["obfuscatedExternalAccountId"] == p["account_id"]
            assert int(r["purchaseTimeMillis"]) // 1000 == int(ts(p["purchased_at"]).timestamp())
        else:
            assert (r["amount"], r["currency"]) == (p["price_minor"], p["currency"].lower())
            assert r["billing_country"] == p["country"] and r["created"] == int(ts(p["purchased_at"]).timestamp())
            assert r["metadata"]["coins"] == p["coins"] and r["metadata"]["product_id"] == p["product_id"]
        seen.add(p["currency"])
    assert {"JPY", "KRW", "VND", "USD", "EUR"} <= seen


def test_every_purchase_has_exactly_its_store_record(data: Data) -> None:
    stores = {"apple": data.apple, "google": data.google, "web": data.web}
    for p in data.purchases.values():
        record = stores[p["store"]][p["store_transaction_id"]]
        product = record.get("productId") or record["metadata"]["product_id"]
        assert product == p["product_id"]


# --- balances ---------------------------------------------------------------------------------------------------


def test_cached_balances_equal_the_ledger_except_planted_drift(data: Data) -> None:
    drift = {a for a, _ in data.planted("balance_drift")}
    found = set()
    for acc_id, a in data.accounts.items():
        if (a["coin_balance"], a["diamond_balance"]) != (data.ledger_sum(acc_id, "coin"),
                                                          data.ledger_sum(acc_id, "diamond")):
            found.add(acc_id)
    assert found == drift
    assert not drift or any(data.accounts[a]["diamond_balance"] != data.ledger_sum(a, "diamond") for a in drift)


def test_no_balance_ever_goes_negative(data: Data) -> None:
    running: Counter = Counter()
    for e in sorted(data.ledger, key=lambda e: (e["at"], -e["amount"])):
        running[e["account_id"], e["asset"]] += e["amount"]
        assert running[e["account_id"], e["asset"]] >= 0, e


# --- reconcile findings, re-derived -----------------------------------------------------------------------------


def test_missing_purchases_are_exactly_the_planted_ones(data: Data) -> None:
    owner = {"apple": lambda r: next(a for a, x in data.accounts.items()
                                     if x.get("apple_app_account_token") == r["appAccountToken"]),
             "google": lambda r: r["obfuscatedExternalAccountId"], "web": lambda r: r["metadata"]["account_id"]}
    found = {(owner[s](r), txn) for s, txn, r in data.store_records() if txn not in data.by_txn}
    assert found == data.planted("missing_purchase") and found


def test_uncredited_and_double_credited_purchases_are_exactly_the_planted_ones(data: Data) -> None:
    uncredited = {(p["account_id"], p["store_transaction_id"]) for p in data.purchases.values()
                  if p["status"] == "completed" and data.credits[p["purchase_id"]] == 0}
    double = {(p["account_id"], p["store_transaction_id"]) for p in data.purchases.values()
              if data.credits[p["purchase_id"]] > 1}
    assert uncredited == data.planted("uncredited_purchase") and uncredited
    assert double == data.planted("duplicate_credit") and double
    for p in data.purchases.values():
        if p["status"] == "pending":
            assert data.credits[p["purchase_id"]] == 0


def test_unapplied_refunds_are_exactly_the_planted_ones(data: Data) -> None:
    refunded = data.store_refund_times()
    unapplied = set()
    for txn in refunded:
        p = data.by_txn[txn]
        if p["status"] == "completed" and not data.clawbacks[p["purchase_id"]]:
            unapplied.add((p["account_id"], txn))
        else:
            assert p["status"] in ("refunded", "charged_back") and data.clawbacks[p["purchase_id"]] == 1
    assert unapplied == data.planted("unapplied_refund")
    # Outside the stores' list windows, and every kind of refund.
    when = {txn: refunded[txn] for _, txn in unapplied}
    assert any(txn in data.apple and NOW - t > 180 * DAY for txn, t in when.items())
    assert any(txn in data.google and NOW - t > 30 * DAY for txn, t in when.items())
    assert any(txn in data.web and data.web[txn]["refunded"] for txn in when)
    lost = {d["charge"] for d in data.disputes if d["status"] == "lost"}
    assert any(txn in lost and data.web[txn]["disputed"] for txn in when)


def test_amount_mismatches_are_exactly_the_planted_ones(data: Data) -> None:
    found = set()
    for p in data.purchases.values():
        prices = data.prices_in_force(p["country"], p["store"], p["product_id"], ts(p["purchased_at"]))
        if p["price_minor"] not in prices:
            found.add((p["account_id"], p["store_transaction_id"]))
    for s, txn, r in data.store_records():  # missing purchases are charged at the right price
        if txn not in data.by_txn:
            assert s != "web" or r["amount"] > 0
    assert found == data.planted("amount_mismatch")
    currencies = {data.by_txn[t]["currency"] for _, t in found}
    assert currencies & {"JPY", "KRW", "VND"}


def test_every_finding_kind_is_planted_on_its_own_account(data: Data) -> None:
    kinds = Counter(f["kind"] for f in data.manifest["findings"])
    assert set(kinds) == {"missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund",
                          "balance_drift", "amount_mismatch"}
    assert all(n >= per_kind(len(data.accounts)) for n in kinds.values())
    accounts = [f["account_id"] for f in data.manifest["findings"]]
    assert len(accounts) == len(set(accounts))


# --- review flags, re-derived -----------------------------------------------------------------------------------


def purchases_by_account(data: Data) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for p in sorted(data.purchases.values(), key=lambda p: p["purchased_at"]):
        out[p["account_id"]].append(p)
    return out


def test_duplicate_charges(data: Data) -> None:
    found = set()
    for ps in purchases_by_account(data).values():
        for a, b in zip(ps, ps[1:], strict=False):
            gap = ts(b["purchased_at"]) - ts(a["purchased_at"])
            if a["product_id"] == b["product_id"] and gap <= timedelta(minutes=2):
                found.add(b["purchase_id"])
    assert found == data.flagged("duplicate_charge") and found


def test_region_unavailable(data: Data) -> None:
    found = set()
    for p in data.purchases.values():
        region = data.region_at(p["country"], ts(p["purchased_at"]))
        if region is None or not region["coin_purchase"]:
            found.add(p["purchase_id"])
    assert found == data.flagged("region_unavailable")
    countries = {data.purchases[p]["country"] for p in found}
    assert {"VN", "AR"} <= countries


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_underage(data: Data) -> None:
    found, ages = set(), {}
    for p in data.purchases.values():
        birth = data.accounts[p["account_id"]].get("birth_date")
        at = ts(p["purchased_at"])
        region = data.region_at(p["country"], at)
        if birth and region and age_on(date.fromisoformat(birth), at.date()) < region["min_age"]:
            found.add(p["purchase_id"])
            ages[p["purchase_id"]] = (p["country"], age_on(date.fromisoformat(birth), at.date()))
    assert found == data.flagged("underage")
    assert ("KR", 18) in ages.values()


def test_storefront_mismatch(data: Data) -> None:
    found = {p["purchase_id"] for p in data.purchases.values()
             if p["country"] != data.accounts[p["account_id"]]["country"]}
    assert found == data.flagged("storefront_mismatch") and found


def velocity_hits(data: Data) -> dict[str, str]:
    """Account -> 'count' or 'usd' for any 24 h window with more than 5 purchases or over USD 500."""
    hits = {}
    for acc, ps in purchases_by_account(data).items():
        for i, p in enumerate(ps):
            end = ts(p["purchased_at"])
            window = [q for q in ps[: i + 1] if end - ts(q["purchased_at"]) < DAY]
            if len(window) > 5:
                hits[acc] = "count"
            elif sum(data.usd(q) for q in window) > 50000:
                hits.setdefault(acc, "usd")
    return hits


def test_velocity(data: Data) -> None:
    hits = velocity_hits(data)
    assert set(hits) == data.flagged_accounts("velocity")
    assert set(hits.values()) == {"count", "usd"}
    usd_only = [a for a, why in hits.items() if why == "usd"]
    assert all(p["currency"] != "USD" for a in usd_only for p in purchases_by_account(data)[a])


def laundering_hits(data: Data) -> dict[str, Fraction]:
    """Buyer -> the largest share of a day's bought coins gifted within 24 h to one creator who cashed out
    within 7 days after."""
    f = data.files
    gifts = defaultdict(list)
    for g in f["app/gift_events.jsonl"]:
        gifts[g["sender_id"]].append(g)
    cashouts = defaultdict(list)
    for c in f["app/cashouts.jsonl"]:
        cashouts[c["creator_id"]].append(ts(c["at"]))
    best: dict[str, Fraction] = {}
    for acc, ps in purchases_by_account(data).items():
        for p in ps:
            start = ts(p["purchased_at"])
            bought = sum(q["coins"] for q in ps if start <= ts(q["purchased_at"]) < start + DAY)
            to_creator: Counter = Counter()
            last: dict[str, datetime] = {}
            for g in gifts[acc]:
                if start <= ts(g["at"]) < start + DAY:
                    to_creator[g["creator_id"]] += g["coins"]
                    last[g["creator_id"]] = max(last.get(g["creator_id"], start), ts(g["at"]))
            for creator, coins in to_creator.items():
                if any(last[creator] <= c <= last[creator] + 7 * DAY for c in cashouts[creator]):
                    best[acc] = max(best.get(acc, Fraction(0)), Fraction(coins, bought))
    return best


def test_gift_laundering(data: Data) -> None:
    shares = laundering_hits(data)
    assert {a for a, s in shares.items() if s >= Fraction(4, 5)} == data.flagged_accounts("gift_laundering")
    near = {n["account_id"] for n in data.manifest["near_misses"] if n["case"] == "gifted_79_percent"}
    assert len(near) == 1 and Fraction(78, 100) < shares[near.pop()] < Fraction(80, 100)


def test_ordinary_gifts_come_a_day_after_any_purchase(data: Data) -> None:
    """Stronger than the rule: no clean sender gifts within 24 h after buying, so no reading of it can fire."""
    laundering = data.flagged_accounts("gift_laundering") | {
        n["account_id"] for n in data.manifest["near_misses"] if n["case"] == "gifted_79_percent"}
    bought = purchases_by_account(data)
    for g in data.files["app/gift_events.jsonl"]:
        if g["sender_id"] in laundering:
            continue
        at = ts(g["at"])
        assert all(not (DAY > at - ts(p["purchased_at"]) >= timedelta(0)) for p in bought[g["sender_id"]])


def refund_times_by_account(data: Data) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = defaultdict(list)
    for txn, at in data.store_refund_times().items():
        out[data.by_txn[txn]["account_id"]].append(at)
    return out


def max_refunds_in_90_days(times: list[datetime]) -> int:
    times = sorted(times)
    return max(sum(1 for u in times if t <= u <= t + 90 * DAY) for t in times)


def test_refund_abuse(data: Data) -> None:
    found = {a for a, times in refund_times_by_account(data).items() if max_refunds_in_90_days(times) >= 3}
    assert found == data.flagged_accounts("refund_abuse") and found
    for f in data.manifest["flags"]:
        if f["rule"] == "refund_abuse":
            assert data.purchases[f["purchase_id"]]["status"] in ("refunded", "charged_back")


def test_every_rule_is_planted_and_flagged_purchases_are_clean_otherwise(data: Data) -> None:
    rules = Counter(f["rule"] for f in data.manifest["flags"])
    assert set(rules) == {"duplicate_charge", "region_unavailable", "underage", "storefront_mismatch", "velocity",
                          "gift_laundering", "refund_abuse"}
    for f in data.manifest["flags"]:
        p = data.purchases[f["purchase_id"]]
        assert p["store_transaction_id"] == f["store_transaction_id"] and p["account_id"] == f["account_id"]
        assert p["status"] != "completed" or data.credits[f["purchase_id"]] == 1


# --- clean accounts and near misses -----------------------------------------------------------------------------


def test_clean_accounts_are_in_no_finding_or_flag(data: Data) -> None:
    clean = set(data.manifest["clean_accounts"])
    involved = ({f["account_id"] for f in data.manifest["findings"]}
                | {f["account_id"] for f in data.manifest["flags"]} | set(data.manifest["accomplices"]))
    assert clean == set(data.accounts) - involved
    assert {n["account_id"] for n in data.manifest["near_misses"]} <= clean
    # The re-derived detectors above already compare against the planted sets; spot-check the cross-cuts.
    assert not clean & set(velocity_hits(data))
    assert not clean & {a for a, s in laundering_hits(data).items() if s >= Fraction(4, 5)}


def near(data: Data, case: str) -> dict:
    (found,) = [n for n in data.manifest["near_misses"] if n["case"] == case]
    return found


def test_near_misses_sit_just_inside_the_thresholds(data: Data) -> None:
    ps = purchases_by_account(data)
    repeat = near(data, "repeat_after_2m01s")
    second = data.purchases[repeat["purchase_id"]]
    first = [p for p in ps[repeat["account_id"]] if p["product_id"] == second["product_id"] and p is not second]
    gaps = [ts(second["purchased_at"]) - ts(p["purchased_at"]) for p in first]
    assert timedelta(seconds=121) in gaps

    five = ps[near(data, "five_purchases_in_24h")["account_id"]]
    assert max(sum(1 for q in five if timedelta(0) <= ts(q["purchased_at"]) - ts(p["purchased_at"]) < DAY)
               for p in five) == 5

    usd = near(data, "usd_499_98_in_24h")
    end = ts(data.purchases[usd["purchase_id"]]["purchased_at"])
    day = [p for p in ps[usd["account_id"]] if timedelta(0) <= end - ts(p["purchased_at"]) < DAY]
    assert sum(data.usd(p) for p in day) == 49998

    refunds = refund_times_by_account(data)[near(data, "two_refunds_in_90_days")["account_id"]]
    assert len(refunds) == 3 and max_refunds_in_90_days(refunds) == 2

    won = data.purchases[near(data, "dispute_won")["purchase_id"]]
    assert won["status"] == "completed" and data.web[won["store_transaction_id"]]["disputed"]

    pending = data.purchases[near(data, "pending_purchase")["purchase_id"]]
    assert pending["status"] == "pending" and data.google[pending["store_transaction_id"]]["purchaseState"] == 2


def test_promotions_credit_bonus_coins_at_the_promotional_price(data: Data) -> None:
    bonus = data.purchases[near(data, "promotion_us_web_bonus")["purchase_id"]]
    assert (bonus["coins"], bonus["price_minor"], data.credits[bonus["purchase_id"]]) == (840, 999, 1)
    sale = data.purchases[near(data, "promotion_br_apple_sale")["purchase_id"]]
    assert (sale["coins"], sale["price_minor"]) == (350, 2490)


# --- determinism and the checked-in fixture -----------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json*"))}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path, out: Path) -> None:
    generate(tmp_path / "again", seed=11, accounts=300, now=NOW)
    generate(tmp_path / "other", seed=12, accounts=300, now=NOW)
    assert tree(tmp_path / "again") == tree(out)
    assert tree(tmp_path / "other") != tree(out)


def test_smallest_dataset_still_plants_everything(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=3, accounts=MIN_ACCOUNTS, now=NOW)
    assert len({f.kind for f in manifest.findings}) == 6 and len({f.rule for f in manifest.flags}) == 7
    with pytest.raises(ValueError, match="too few"):
        generate(tmp_path / "tiny", accounts=MIN_ACCOUNTS - 1, now=NOW)


def test_zero_decimal_currencies_are_among_the_planted_findings(data: Data) -> None:
    currency = {txn: r.get("currency") or r.get("priceCurrencyCode") or r["currency"].upper()
                for _, txn, r in data.store_records()}
    planted = {currency[f["store_transaction_id"]] for f in data.manifest["findings"] if f["store_transaction_id"]}
    assert {"JPY", "KRW", "VND"} <= planted


def test_command_line_in_the_fixture_readme_writes_the_fixture(tmp_path: Path) -> None:
    readme = (FIXTURE.parent / "README.md").read_text()
    command = re.search(r"-m supportdesk\.dataset (.+)", readme).group(1).split()
    command[command.index("--out") + 1] = str(tmp_path)
    assert main(command) == 0
    assert tree(tmp_path) == tree(FIXTURE), "regenerate fixtures/small as fixtures/README.md says"


def test_scaled_dataset_is_valid_balanced_and_the_size_asked_for(tmp_path: Path) -> None:
    counts = write_scaled(tmp_path, 3000, accounts=300, seed=5, now=NOW)
    data = Data(load(tmp_path), {"findings": [], "flags": []})
    assert (counts.ledger_entries, len(data.ledger), len(data.accounts)) == (3000, 3000, 300)
    test_every_line_has_the_contract_fields_with_the_right_types(data, allow_empty=True)
    for check in (test_ids_are_unique, test_references_resolve, test_store_records_point_at_their_account,
                  test_every_purchase_has_exactly_its_store_record, test_no_balance_ever_goes_negative,
                  test_cached_balances_equal_the_ledger_except_planted_drift):
        check(data)
    assert not velocity_hits(data) and not laundering_hits(data)
