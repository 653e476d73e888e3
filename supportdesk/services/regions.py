"""Regions: what a country allows at a time, at what prices, how that changed; and per purchase, was it allowed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, select

from supportdesk.db.models import PricePoint, Region
from supportdesk.domain import regions as rg
from supportdesk.domain.money import format_money
from supportdesk.domain.when import parse_when
from supportdesk.errors import InvalidInput


def parse_at(at: datetime | str | None, now: datetime | None = None) -> datetime:
    """A time (aware, else UTC), ISO 8601 text, a span back from now such as 30d, or None for now."""
    if at is None or (isinstance(at, str) and not at.strip()):
        return now or datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    if not isinstance(at, str):
        raise InvalidInput(f"{at!r} is not a time")
    return parse_when(at, now=now)


def region_rows(session: Session, countries: Iterable[str]) -> dict[str, list[rg.RegionRow]]:
    """Every region row of these countries, oldest first, in one query."""
    wanted = sorted(set(countries))
    out: dict[str, list[rg.RegionRow]] = {c: [] for c in wanted}
    if wanted:
        stmt = select(Region).where(col(Region.country).in_(wanted)).order_by(col(Region.valid_from))
        for row in session.exec(stmt):
            out[row.country].append(rg.RegionRow.of(row))
    return out


def region(session: Session, country_or_name: str, at: datetime | str | None = None) -> dict[str, Any]:
    """The region in force for a country (code or name) at `at` (default now): what it allows, its prices, its history.

    JSON keys (formats.md): country, in_force, available, prices, history; plus name, alpha_3, at, reason, allows."""
    country = rg.resolve_country(country_or_name)
    when = parse_at(at)
    rows = region_rows(session, [country.code])[country.code]
    current = rg.region_in_force(rows, when)
    verdict = rg.action_verdict(country.code, rows, when)
    points = [rg.PriceRow.of(p) for p in session.exec(
        select(PricePoint).where(PricePoint.country == country.code, col(PricePoint.valid_from) <= when))]
    offered = set(current.stores) if current else set()
    return {
        "country": country.code,
        "alpha_3": country.alpha_3,
        "name": country.name,
        "at": when,
        "available": verdict.allowed,
        "rule": verdict.rule,
        "reason": verdict.reason,
        "in_force": rg.row_json(current) if current else None,
        "allows": rg.allows(current),
        "min_age": current.min_age if current else None,
        "stores": list(current.stores) if current else [],
        "prices": [price_json(p, p.store in offered) for p in rg.prices_in_force(points, when)],
        "history": rg.history(rows, when),
    }


def price_json(p: rg.PriceRow, offered: bool) -> dict[str, Any]:
    return {"store": p.store, "product_id": p.product_id, "coins": p.coins, "bonus_coins": p.bonus_coins,
            "price_minor": p.price_minor, "currency": p.currency, "price": format_money(p.price_minor, p.currency),
            "valid_from": p.valid_from, "valid_to": p.valid_to, "promotion": p.promotion, "store_offered": offered}


def _field(purchase: Any, name: str) -> Any:
    return purchase[name] if isinstance(purchase, Mapping) else getattr(purchase, name)


def verdict_json(purchase: Any, rows: list[rg.RegionRow], birth_date: date | None = None) -> dict[str, Any]:
    """Was coin purchase allowed for this purchase's country and store at its time, which rule decided, and (when
    the birth date is known) whether the buyer was old enough."""
    country, store, at = _field(purchase, "country"), _field(purchase, "store"), _field(purchase, "purchased_at")
    v = rg.action_verdict(country, rows, at, "buy_coins", store)
    row = rg.region_in_force(rows, at)
    age = rg.age_verdict(row, birth_date, at)
    return {"allowed": v.allowed, "rule": v.rule, "reason": v.reason, "country": country, "store": store, "at": at,
            "region_from": row.valid_from if row else None, "min_age": row.min_age if row else None,
            "age_ok": None if age.rule in ("age_unknown", "no_region_row") else age.allowed}


def availability_at_purchase(session: Session, purchase: Any, birth_date: date | None = None) -> dict[str, Any]:
    """One purchase (a Purchase row or its dict): was coin purchase allowed there, then, through that store?"""
    return verdict_json(purchase, region_rows(session, [_field(purchase, "country")])[_field(purchase, "country")],
                        birth_date)


def availability_for_purchases(session: Session, purchases: list[Any],
                               birth_date: date | None = None) -> dict[str, dict[str, Any]]:
    """The same verdict for many purchases (one account's), with one query for all their countries."""
    rows = region_rows(session, (_field(p, "country") for p in purchases))
    return {_field(p, "purchase_id"): verdict_json(p, rows[_field(p, "country")], birth_date) for p in purchases}


def countries_with_regions(session: Session) -> list[str]:
    return list(session.exec(select(Region.country).distinct().order_by(Region.country)))


def find_countries(session: Session, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Countries for a picker, best match first (with nothing typed: those with region rows first), each saying
    whether it has region rows."""
    with_rows = set(countries_with_regions(session))
    found = rg.search_countries(text, limit=None if not text.strip() else limit)
    if not text.strip():
        found.sort(key=lambda c: c.code not in with_rows)  # stable: by name within each group
    return [{"code": c.code, "alpha_3": c.alpha_3, "name": c.name, "has_region": c.code in with_rows}
            for c in found[:limit]]
