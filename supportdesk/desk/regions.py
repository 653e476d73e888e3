"""Regions: what a country allows (buy coins, send gifts, cash out), at what prices, in force at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]


class RegionDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def region(self, country: str, at: str | None = None) -> Row:
        """A country (code or name) as of `at` (ISO 8601 or a span back such as 30d; None: now): `available`,
        `reason`, `allows`, `in_force`, `prices`, `history` (see `services.regions.region`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.regions import region

        with read_session(self.desk.engine) as session:
            return region(session, country, at)

    def countries(self, text: str) -> list[Row]:
        """Countries for a picker, best match first, each with `has_region`."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.regions import find_countries

        with read_session(self.desk.engine) as session:
            return find_countries(session, text)
