"""The review queue on SQLite and PostgreSQL: each rule fires on its case and not on the nearest case that must
not (2:01 apart, exactly 5 purchases, 79 %, 2 refunds); rebuilds keep decisions; actions run once, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, AuditRecord, Cashout, ReviewFlag
from supportdesk.errors import Forbidden, InvalidInput, NotFound
from supportdesk.services import review
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import account, write_dataset

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
AGENT = ActionContext("ana", "checked the charges", role="agent")
LEAD = ActionContext("lee", "laundering ring", ticket_id="T-9", role="lead")
US_PRICES = {"coins_70": 99, "coins_700": 999, "coins_17500": 24999}
KR_PRICES = {"coins_70": 1400, "coins_17500": 375000}


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def region(country: str, *, coin_purchase: bool = True, min_age: int = 18, since: str = "2024-01-01T00:00:00Z",
           currency: str = "USD") -> dict[str, Any]:
    return {"country": country, "currency": currency, "coin_purchase": coin_purchase, "gifting": True,
            "cashout": True, "min_age": min_age, "stores": ["apple", "google", "web"], "valid_from": since}


def prices(country: str, currency: str, table: dict[str, int]) -> list[dict[str, Any]]:
    return [{"country": country, "store": "google", "product_id": product, "coins": int(product.split("_")[1]),
             "price_minor": price, "currency": currency, "valid_from": "2024-01-01T00:00:00Z", "valid_to": None}
            for product, price in table.items()]


class World:
    """A small dataset: accounts acc_0000.. in the US, purchases, gifts, cashouts and clawbacks."""

    def __init__(self, n_accounts: int = 4) -> None:
        self.accounts = [account(i) for i in range(n_accounts)]
        self.purchases: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.gift_events: list[dict[str, Any]] = []
        self.cashouts: list[dict[str, Any]] = []
        self.regions = [region("US"), region("KR", min_age=19, currency="KRW"),
                        region("VN", currency="VND"),
                        region("VN", coin_purchase=False, since="2026-08-03T00:00:00Z", currency="VND")]

    def buy(self, acc: int, at: datetime, product: str = "coins_70", *, country: str = "US",
            status: str = "completed") -> str:
        pid = f"pur_{len(self.purchases):04d}"
        coins = int(product.split("_")[1])
        table, currency = (KR_PRICES, "KRW") if country == "KR" else (US_PRICES, "USD")
        self.purchases.append({
            "purchase_id": pid, "account_id": f"acc_{acc:04d}", "store": "google",
            "store_transaction_id": f"GPA.{len(self.purchases):04d}", "product_id": product, "coins": coins,
            "price_minor": table.get(product, 99), "currency": currency, "country": country,
            "purchased_at": stamp(at), "status": status})
        self.ledger.append({"entry_id": f"le_{pid}", "account_id": f"acc_{acc:04d}", "asset": "coin",
                            "amount": coins, "kind": "purchase", "ref": pid, "at": stamp(at), "actor": "system"})
        return pid

    def refund(self, pid: str, at: datetime) -> None:
        p = next(p for p in self.purchases if p["purchase_id"] == pid)
        p["status"] = "refunded"
        self.ledger.append({"entry_id": f"le_cb_{pid}", "account_id": p["account_id"], "asset": "coin",
                            "amount": -p["coins"], "kind": "refund_clawback", "ref": pid, "at": stamp(at),
                            "actor": "system"})

    def gift(self, sender: int, creator: int, coins: int, at: datetime) -> None:
        self.gift_events.append({"event_id": f"ev_{len(self.gift_events):04d}", "sender_id": f"acc_{sender:04d}",
                                 "creator_id": f"acc_{creator:04d}", "gift_id": "rose", "quantity": coins,
                                 "coins": coins, "diamonds": coins // 2, "at": stamp(at)})

    def cashout(self, creator: int, at: datetime, status: str = "requested") -> str:
        cid = f"co_{len(self.cashouts):04d}"
        self.cashouts.append({"cashout_id": cid, "creator_id": f"acc_{creator:04d}", "diamonds": 100,
                              "amount_minor": 50, "currency": "USD", "status": status, "at": stamp(at)})
        return cid

    def files(self) -> dict[str, list[dict[str, Any]]]:
        return {"regions": self.regions,
                "price_points": prices("US", "USD", US_PRICES) + prices("KR", "KRW", KR_PRICES),
                "gifts": [{"gift_id": "rose", "name": "Rose", "coins": 1, "diamonds": 0}],
                "accounts": self.accounts, "purchases": self.purchases, "ledger": self.ledger,
                "gift_events": self.gift_events, "cashouts": self.cashouts,
                "tickets": [{"ticket_id": "T-9", "account_id": "acc_0000", "subject": "Gift ring?", "body": "",
                             "category": "suspicious", "status": "open", "created_at": stamp(T0)}]}


@pytest.fixture
def load(engine, tmp_path):
    def load(world: World) -> Any:
        run_import(engine, write_dataset(tmp_path / "ds", world.files()))
        return engine
    return load


def flags(engine, rule: str | None = None, **policy: Any) -> dict[str, dict[str, Any]]:
    """Build the queue; the open flags (of one rule) by purchase id."""
    with write_session(engine) as s:
        review.build(s, policy or None, [rule] if rule else None)
    with read_session(engine) as s:
        return {f["purchase_id"]: f for f in review.queue(s, rule)}


# --- each rule: fires, and the nearest case does not ------------------------------------------------------------

def test_duplicate_charge_within_two_minutes_not_at_2m01(load):
    w = World()
    w.buy(0, T0, "coins_700")
    later = w.buy(0, T0 + timedelta(seconds=120), "coins_700")
    w.buy(1, T0, "coins_700")
    w.buy(1, T0 + timedelta(seconds=121), "coins_700")
    w.buy(2, T0, "coins_700")
    w.buy(2, T0 + timedelta(seconds=5), "coins_70")  # another product is not a duplicate
    found = flags(load(w), "duplicate_charge")
    assert set(found) == {later}
    ev = found[later]["evidence"]
    assert ev["seconds_apart"] == 120 and [p["purchase_id"] for p in ev["purchases"]] == ["pur_0000", later]
    assert found[later]["store_transaction_id"] == "GPA.0001" and found[later]["store"] == "google"


def test_region_unavailable_when_sales_suspended_or_no_region_row(load):
    w = World()
    w.accounts[1]["country"] = w.accounts[2]["country"] = "VN"
    w.accounts[3]["country"] = "AR"
    before = w.buy(1, datetime(2026, 8, 2, 23, 59, tzinfo=UTC), country="VN")
    after = w.buy(2, datetime(2026, 8, 3, 0, 0, tzinfo=UTC), country="VN")
    nowhere = w.buy(3, T0, country="AR")
    found = flags(load(w), "region_unavailable")
    assert set(found) == {after, nowhere} and before not in found
    assert found[after]["evidence"]["region_in_force"]["coin_purchase"] is False
    assert found[nowhere]["evidence"]["region_in_force"] is None


def test_underage_by_the_min_age_in_force_on_the_purchase_date(load):
    w = World()
    w.accounts[0].update(country="KR", birth_date="2007-10-02")  # 18 on 2026-10-01, KR needs 19
    w.accounts[1].update(country="KR", birth_date="2007-10-01")  # 19 that day
    w.accounts[2].update(birth_date="2008-10-02")  # 17 in the US, a day short of 18
    w.accounts[3].update(birth_date="2008-10-01")  # 18 today
    young_kr = w.buy(0, T0, country="KR")
    w.buy(1, T0, country="KR")
    young_us = w.buy(2, T0)
    w.buy(3, T0)
    found = flags(load(w), "underage")
    assert set(found) == {young_kr, young_us}
    assert found[young_kr]["evidence"]["age"] == 18 and found[young_kr]["evidence"]["min_age"] == 19


def test_storefront_mismatch(load):
    w = World()
    abroad = w.buy(0, T0, country="KR")
    w.buy(1, T0)
    found = flags(load(w), "storefront_mismatch")
    assert set(found) == {abroad}
    assert found[abroad]["evidence"] == {**found[abroad]["evidence"], "account_country": "US",
                                         "purchase_country": "KR"}


def test_velocity_six_purchases_in_a_day_not_five(load):
    w = World()
    sixth = [w.buy(0, T0 + timedelta(hours=4 * n)) for n in range(6)][-1]
    for n in range(5):
        w.buy(1, T0 + timedelta(hours=4 * n))
    for n in range(6):  # six, but never six within 24 hours
        w.buy(2, T0 + timedelta(hours=5 * n))
    found = flags(load(w), "velocity")
    assert set(found) == {sixth}
    assert found[sixth]["evidence"]["count"] == 6


def test_velocity_usd_equivalent_from_the_price_points(load):
    w = World()
    w.accounts[0]["country"] = w.accounts[1]["country"] = "KR"
    w.buy(0, T0, "coins_17500", country="KR")
    w.buy(0, T0 + timedelta(hours=5), "coins_17500", country="KR")
    third = w.buy(0, T0 + timedelta(hours=9), "coins_17500", country="KR")
    w.buy(1, T0, "coins_17500", country="KR")  # 2 x KRW 375,000 = USD 499.98: not over 500
    w.buy(1, T0 + timedelta(hours=5), "coins_17500", country="KR")
    found = flags(load(w), "velocity")
    assert set(found) == {third}
    ev = found[third]["evidence"]
    assert ev["usd_minor"] == 3 * 24999 and [p["usd_minor"] for p in ev["purchases"]] == [24999] * 3


def test_velocity_usd_threshold_is_configuration(load):
    w = World()
    w.buy(0, T0, "coins_17500")
    second = w.buy(0, T0 + timedelta(hours=1), "coins_17500")
    assert set(flags(load(w), "velocity", velocity_usd_minor=40000)) == {second}


def laundering_world(gifted: int) -> tuple[World, str, str]:
    w = World()
    w.accounts[1]["kind"] = "creator"
    pid = w.buy(0, T0, "coins_700")
    w.gift(0, 1, gifted - 100, T0 + timedelta(minutes=30))
    w.gift(0, 1, 100, T0 + timedelta(hours=23))
    if gifted < 700:
        w.gift(0, 2, 700 - gifted, T0 + timedelta(hours=1))
    cashout = w.cashout(1, T0 + timedelta(days=3))
    w.cashout(1, T0 - timedelta(days=30), status="paid")
    return w, pid, cashout


def test_gift_laundering_at_80_percent(load):
    w, pid, cashout = laundering_world(560)
    found = flags(load(w), "gift_laundering")
    assert set(found) == {pid}
    ev = found[pid]["evidence"]
    assert (ev["creator_id"], ev["gifted_coins"], ev["bought_coins"], ev["percent"]) == ("acc_0001", 560, 700, 80)
    assert [c["cashout_id"] for c in ev["cashouts"]] == [cashout] and len(ev["gifts"]) == 2
    assert found[pid]["creator_handle"] == "@user1"  # agents know creators by handle
    assert "coins gifted to @user1," in review.headline(found[pid])


def test_gift_laundering_not_at_79_percent(load):
    w, _, _ = laundering_world(553)
    assert flags(load(w), "gift_laundering") == {}


def test_gift_laundering_needs_a_cashout_within_7_days(load):
    w, _, _ = laundering_world(700)
    w.cashouts[0]["at"] = stamp(T0 + timedelta(days=7, seconds=1))
    assert flags(load(w), "gift_laundering") == {}


def test_gift_laundering_gifts_after_24_hours_do_not_count(load):
    w, _, _ = laundering_world(560)
    w.gift_events[1]["at"] = stamp(T0 + timedelta(hours=24, seconds=1))
    assert flags(load(w), "gift_laundering") == {}


def test_refund_abuse_three_within_90_days_not_two(load):
    w = World()
    first = [w.buy(0, T0 + timedelta(days=d)) for d in (0, 30, 60)]
    for pid, d in zip(first, (2, 32, 62), strict=True):
        w.refund(pid, T0 + timedelta(days=d))
    spread = [w.buy(1, T0 + timedelta(days=d)) for d in (0, 40, 135)]  # 2 in any 90 days
    for pid, d in zip(spread, (2, 42, 137), strict=True):
        w.refund(pid, T0 + timedelta(days=d))
    found = flags(load(w), "refund_abuse")
    assert set(found) == {first[-1]}
    ev = found[first[-1]]["evidence"]
    assert ev["count"] == 3 and {r["dated_by"] for r in ev["refunds"]} == {"clawback"}


def test_clean_accounts_raise_nothing(load):
    w = World()
    for acc in range(4):
        w.buy(acc, T0 + timedelta(days=acc))
    assert flags(load(w)) == {}


# --- the queue --------------------------------------------------------------------------------------------------

def dup_world() -> tuple[World, str]:
    w = World()
    w.buy(0, T0)
    return w, w.buy(0, T0 + timedelta(seconds=30))


def test_rebuild_finds_the_same_flag_and_never_reopens_a_dismissed_one(load):
    w, later = dup_world()
    engine = load(w)
    first = flags(engine)[later]["flag_id"]
    assert flags(engine)[later]["flag_id"] == first
    with write_session(engine) as s:
        review.act(s, first, "dismiss", AGENT)
    assert flags(engine) == {}
    with write_session(engine) as s:
        result = review.build(s)
        assert (result.raised, result.decided) == (0, 1)
    with read_session(engine) as s:
        kept = review.get_flag(s, first)
        assert kept["status"] == "dismissed" and kept["decided_by"] == "ana"
        assert s.exec(select(func.count()).select_from(ReviewFlag)).one() == 1


def test_rebuild_in_chunks_and_keyset_pages(load):
    """`rebuild` (rules in a read transaction, writes in chunks, here of one flag) leaves what `build` leaves, keeps
    a decision taken meanwhile, and `page` walks the queue by (score desc, flag_id) without evidence."""
    w = World()
    w.buy(0, T0)
    w.buy(0, T0 + timedelta(seconds=30))  # duplicate_charge
    for i in (1, 2, 3):
        w.accounts[i]["country"] = "KR"
        w.buy(i, T0)  # storefront_mismatch, three of them (equal scores: ties by flag id)
    engine = load(w)
    result = review.rebuild(engine, chunk=1)
    assert (result.raised, result.cleared) == (4, 0)
    with read_session(engine) as s:
        whole = review.queue(s)
        first = review.page(s, limit=2)
        rest = review.page(s, after=(first[-1]["score"], first[-1]["flag_id"]), limit=2)
        assert review.page(s, after=(rest[-1]["score"], rest[-1]["flag_id"]), limit=2) == []
        assert [f["flag_id"] for f in first + rest] == [f["flag_id"] for f in whole]
        assert "evidence" not in first[0] and first[0]["headline"] == review.headline(whole[0])
        up = review.page(s, limit=10, ascending=True)
        assert [(f["score"], f["flag_id"]) for f in up] == sorted((f["score"], f["flag_id"]) for f in whole)
        assert review.counts(s) == {"duplicate_charge": 1, "storefront_mismatch": 3}
    with write_session(engine) as s:
        review.act(s, whole[0]["flag_id"], "dismiss", AGENT)
    again = review.rebuild(engine, chunk=1)
    assert (again.raised, again.refreshed, again.decided, again.unchanged) == (0, 0, 1, 3)
    with read_session(engine) as s:
        assert review.get_flag(s, whole[0]["flag_id"])["status"] == "dismissed"


def test_rebuild_refreshes_reopens_and_clears(load):
    """The three kinds of update a rebuild writes, as stored: a changed open flag is refreshed (score and evidence
    as the rules say now), a cleared flag that fires again opens again, an open one that no longer fires is
    cleared; the evidence reads back as it was written."""
    w = World()
    w.accounts[1]["country"] = "KR"
    pid = w.buy(1, T0)  # storefront_mismatch
    engine = load(w)
    assert review.rebuild(engine).raised == 1
    with read_session(engine) as s:
        flag = review.page(s)[0]
        fid, evidence = flag["flag_id"], review.get_flag(s, flag["flag_id"])["evidence"]
    with write_session(engine) as s:
        s.get(ReviewFlag, fid).score, s.get(ReviewFlag, fid).evidence = 1, {"old": True}
        s.add(ReviewFlag(flag_id="flg_stale", rule="velocity", account_id="acc_0002", score=10,
                         evidence={"count": 6, "purchases": []}, created_at=T0))
    again = review.rebuild(engine, chunk=1)
    assert (again.raised, again.refreshed, again.cleared, again.unchanged) == (0, 1, 1, 0)
    with read_session(engine) as s:
        got = review.get_flag(s, fid)
        assert (got["score"], got["evidence"], got["purchase_id"]) == (flag["score"], evidence, pid)
        assert s.get(ReviewFlag, "flg_stale").status == "cleared"
    with write_session(engine) as s:
        s.get(ReviewFlag, fid).status = "cleared"
    third = review.rebuild(engine)
    assert (third.raised, third.refreshed, third.cleared, third.unchanged) == (0, 1, 0, 0)
    with read_session(engine) as s:
        assert review.get_flag(s, fid)["status"] == "open"
        assert s.get(ReviewFlag, "flg_stale").status == "cleared"


def test_unknown_rule_and_flag_are_refused(load):
    engine = load(World())
    with write_session(engine) as s, pytest.raises(InvalidInput):
        review.build(s, None, ["nope"])
    with write_session(engine) as s, pytest.raises(NotFound):
        review.act(s, "flg_missing", "dismiss", AGENT)
    with write_session(engine) as s, pytest.raises(InvalidInput):
        review.act(s, "flg_missing", "ban", AGENT)


def audit_count(engine) -> int:
    with read_session(engine) as s:
        return s.exec(select(func.count()).select_from(AuditRecord).where(AuditRecord.action != "import.ledger")).one()


def test_limit_is_audited_and_idempotent(load):
    w, later = dup_world()
    engine = load(w)
    fid = flags(engine)[later]["flag_id"]
    with write_session(engine) as s:
        done = review.act(s, fid, "limit", AGENT)
    assert done["replayed"] is False and done["account_status"] == {"before": "active", "after": "limited"}
    records = audit_count(engine)
    assert records == 2  # the account's status, the flag's decision
    with write_session(engine) as s:
        again = review.act(s, fid, "limit", AGENT)
    assert again["replayed"] is True and audit_count(engine) == records
    with read_session(engine) as s:
        assert s.get(Account, "acc_0000").status == "limited"
        trail = s.exec(select(AuditRecord).where(AuditRecord.action != "import.ledger").order_by(AuditRecord.seq)).all()
    assert [r.action for r in trail] == ["account.status", "review.limit"]
    assert trail[1].reason == AGENT.reason and trail[1].idempotency_key == f"review:{fid}:limit"


def test_suspend_needs_a_lead_and_writes_nothing_for_an_agent(load):
    w, later = dup_world()
    engine = load(w)
    fid = flags(engine)[later]["flag_id"]
    with write_session(engine) as s, pytest.raises(Forbidden):
        review.act(s, fid, "suspend", AGENT)
    assert audit_count(engine) == 0
    with write_session(engine) as s:
        assert review.act(s, fid, "suspend", LEAD)["account_status"]["after"] == "suspended"
    with write_session(engine) as s:  # limiting a suspended account does not relax it
        assert review.act(s, fid, "limit", LEAD)["account_status"] is None
    with read_session(engine) as s:
        assert s.get(Account, "acc_0000").status == "suspended"


def test_confirmed_laundering_holds_the_creators_requested_cashouts(load):
    w, pid, cashout = laundering_world(700)
    other = w.cashout(1, T0 + timedelta(days=20))
    engine = load(w)
    fid = flags(engine, "gift_laundering")[pid]["flag_id"]
    with write_session(engine) as s:
        done = review.act(s, fid, "confirm", LEAD)
    assert sorted(done["held_cashouts"]) == sorted([cashout, other])
    with read_session(engine) as s:
        statuses = {c.cashout_id: c.status for c in s.exec(select(Cashout)).all()}
        holds = s.exec(select(AuditRecord).where(AuditRecord.action == "cashout.hold")).all()
    assert statuses[cashout] == statuses[other] == "held" and statuses["co_0001"] == "paid"
    assert {h.target for h in holds} == {cashout, other} and all(h.ticket_id == "T-9" for h in holds)
    with write_session(engine) as s:
        assert review.act(s, fid, "confirm", LEAD)["replayed"] is True
    assert audit_count(engine) == 3
