"""The review rules (formats.md section 2), as pure arithmetic: thresholds, flag ids, scores, USD equivalents.

Every number comes from the `[policy.review]` configuration; money and time stay integers (minor units,
milliseconds), never floats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from supportdesk.domain.money import format_money
from supportdesk.domain.text import plural

RULES = (
    "duplicate_charge",
    "region_unavailable",
    "underage",
    "storefront_mismatch",
    "velocity",
    "gift_laundering",
    "refund_abuse",
)
ACTIONS = ("dismiss", "confirm", "limit", "suspend")
# The flag's status after each action; a flag that is not open is never reopened by a rebuild.
FLAG_STATUS = {"dismiss": "dismissed", "confirm": "confirmed", "limit": "limited", "suspend": "suspended"}
# What each action does to the account's status (None: nothing).
ACCOUNT_STATUS = {"dismiss": None, "confirm": None, "limit": "limited", "suspend": "suspended"}
# A stricter status is never relaxed by a review action.
STATUS_RANK = {"active": 0, "limited": 1, "suspended": 2, "banned": 3}
# Purchases that charged the buyer: completed, and those refunded or charged back later.
CHARGED = ("completed", "refunded", "revoked", "voided", "charged_back")
TAKEN_BACK = ("refunded", "revoked", "voided", "charged_back")

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Thresholds:
    duplicate_ms: int
    velocity_purchases: int
    velocity_usd_minor: int
    velocity_ms: int
    laundering_percent: int
    laundering_gift_ms: int
    laundering_cashout_ms: int
    refund_count: int
    refund_ms: int

    @classmethod
    def from_policy(cls, review: dict[str, Any]) -> Thresholds:
        return cls(
            duplicate_ms=int(review["duplicate_charge_seconds"]) * SECOND_MS,
            velocity_purchases=int(review["velocity_purchases"]),
            velocity_usd_minor=int(review["velocity_usd_minor"]),
            velocity_ms=int(review["velocity_hours"]) * HOUR_MS,
            laundering_percent=int(review["laundering_percent"]),
            laundering_gift_ms=int(review["laundering_gift_hours"]) * HOUR_MS,
            laundering_cashout_ms=int(review["laundering_cashout_days"]) * DAY_MS,
            refund_count=int(review["refund_abuse_count"]),
            refund_ms=int(review["refund_abuse_days"]) * DAY_MS,
        )


def flag_id(rule: str, subject: str) -> str:
    """Stable across rebuilds: the same rule on the same subject (a purchase) is the same flag."""
    return "flg_" + hashlib.sha256(f"{rule}:{subject}".encode()).hexdigest()[:16]


def usd_equivalent(price_minor: int, us_price_minor: int | None, local_price_minor: int | None) -> int | None:
    """`price x US price / local price` in USD cents, rounded down; None without both price points."""
    if us_price_minor is None or not local_price_minor:
        return None
    return price_minor * us_price_minor // local_price_minor


def age_on(birth: date, day: date) -> int:
    """Whole years on `day` (someone born on 29 February turns a year older on 1 March in other years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def is_underage(birth: date | None, day: date, min_age: int) -> bool:
    return birth is not None and age_on(birth, day) < min_age


def laundering_fires(gifted: int, bought: int, percent: int) -> bool:
    """`percent` or more of the coins bought went to one creator (integer compare, no division)."""
    return bought > 0 and gifted * 100 >= bought * percent


def first_of_bursts(rows: Iterable[Any], window_ms: int) -> list[Any]:
    """Of the rows over a limit (ordered by account and time), the first of each burst: a later row is a new
    burst once the last one kept has left its window."""
    kept: list[Any] = []
    for row in rows:
        last = kept[-1] if kept else None
        if last is None or last["account_id"] != row["account_id"] or row["t"] - last["t"] > window_ms:
            kept.append(row)
    return kept


def _clamp(score: int) -> int:
    return max(1, min(100, score))


# Scores run 1..100: how sure and how serious; the queue is sorted by them.
def score_duplicate(gap_ms: int, t: Thresholds) -> int:
    """60 for a repeat at the edge of the window, up to 100 for one in the same second."""
    return _clamp(60 + 40 * (t.duplicate_ms - gap_ms) // max(t.duplicate_ms, 1))


def score_region(has_region_row: bool) -> int:
    return 70 if has_region_row else 60


def score_underage(age: int, min_age: int) -> int:
    """80 for a year short, 5 more per further year."""
    return _clamp(75 + 5 * (min_age - age))


def score_storefront() -> int:
    return 30


def score_velocity(count: int, usd_minor: int, t: Thresholds) -> int:
    """50, plus 10 per purchase over the count and 10 per further threshold's worth of USD."""
    over_count = max(0, count - t.velocity_purchases)
    over_usd = max(0, usd_minor - t.velocity_usd_minor) // max(t.velocity_usd_minor, 1)
    return _clamp(50 + 10 * over_count + 10 * over_usd)


def score_laundering(gifted: int, bought: int) -> int:
    """The share gifted, in percent (80..100)."""
    return _clamp(gifted * 100 // max(bought, 1))


def score_refund_abuse(count: int, t: Thresholds) -> int:
    return _clamp(60 + 10 * (count - t.refund_count))


def account_status_after(action: str, current: str) -> str | None:
    """The status `action` sets, or None when it sets none or the account already has a stricter one."""
    target = ACCOUNT_STATUS[action]
    if target is None or STATUS_RANK.get(current, 0) >= STATUS_RANK[target]:
        return None
    return target


# --- words for a flag (its JSON form, as `services.review.queue` lists it) ------------------------------------

def describe(flag: dict[str, Any], action: str) -> str:
    """What an action will do, in the words a confirmation shows."""
    who = flag.get("handle") or flag["account_id"]
    what = {"dismiss": f"Dismiss the {flag['rule']} flag on {who}",
            "confirm": f"Confirm the {flag['rule']} flag on {who}",
            "limit": f"Confirm the {flag['rule']} flag and limit {who} (no gifts)",
            "suspend": f"Confirm the {flag['rule']} flag and suspend {who}"}[action]
    if flag["rule"] == "gift_laundering" and action != "dismiss":
        what += f", and hold creator {creator(flag)}'s requested cashouts"
    return what + (f" (purchase {flag['purchase_id']})" if flag.get("purchase_id") else "")


def creator(flag: dict[str, Any]) -> str:
    """The creator a gift_laundering flag names: the handle when the listing found it, else the account id."""
    return flag.get("creator_handle") or flag["evidence"]["creator_id"]


def headline(flag: dict[str, Any]) -> str:
    """One line saying why the flag was raised, from its evidence."""
    ev, rule = flag["evidence"], flag["rule"]
    if rule == "duplicate_charge":
        first, again = ev["purchases"]
        return f"{again['product_id']} charged again {ev['seconds_apart']} s after {first['purchase_id']}"
    if rule == "region_unavailable":
        region = ev["region_in_force"]
        return (f"bought in {ev['country']}: no region row" if region is None
                else f"bought in {ev['country']} while coin sales were off (since {region['valid_from'][:10]})")
    if rule == "underage":
        return f"aged {ev['age']} in {ev['country']}, minimum {ev['min_age']}"
    if rule == "storefront_mismatch":
        return f"bought in {ev['purchase_country']}, account in {ev['account_country']}"
    if rule == "velocity":
        return f"{ev['count']} purchases, {format_money(ev['usd_minor'], 'USD')} within {ev['window_hours']} h"
    if rule == "gift_laundering":
        return (f"{ev['percent']}% of {ev['bought_coins']:,} coins gifted to {creator(flag)}, "
                f"{plural(len(ev['cashouts']), 'cashout')} within {ev['limits']['cashout_days']} d")
    if rule == "refund_abuse":
        return f"{ev['count']} refunds within {ev['window_days']} days"
    return rule
