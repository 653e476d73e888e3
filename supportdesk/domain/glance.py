"""The words for the account at a glance, the same in the CLI and the TUI: why a status, why a cashout is held
or rejected, and the one-line summary. The desk's typed story in (anything with these attributes), strings out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from supportdesk.domain.text import day, plural


class StatusLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def at(self) -> datetime | None: ...
    @property
    def by(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def ticket_id(self) -> str | None: ...


class CashoutLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def status_by(self) -> str | None: ...
    @property
    def hold_flag_id(self) -> str | None: ...
    @property
    def hold_flag_rule(self) -> str | None: ...


class RefundCountsLike(Protocol):
    @property
    def refunds(self) -> int: ...
    @property
    def chargebacks(self) -> int: ...
    @property
    def disputes(self) -> int: ...


class SpendLike(Protocol):
    @property
    def purchases(self) -> int: ...
    @property
    def spent(self) -> str: ...
    @property
    def refunded(self) -> str: ...


class FlagsLike(Protocol):
    @property
    def open(self) -> Sequence[object]: ...


class SummaryLike(Protocol):
    @property
    def flags(self) -> FlagsLike: ...
    @property
    def refunds(self) -> RefundCountsLike: ...
    @property
    def spend(self) -> Sequence[SpendLike]: ...
    @property
    def cashouts(self) -> Mapping[str, int]: ...


def status_why(st: StatusLike) -> str:
    if st.source != "audit" or st.at is None:
        return f"{st.status} (as imported; no change recorded here)"
    ticket = f", {st.ticket_id}" if st.ticket_id else ""
    return f"{st.status} since {day(st.at)} by {st.by}{ticket}: {st.reason}"


def cashout_why(c: CashoutLike) -> str:
    """Who set the status and why; a hold a review flag caused names the flag's rule (release: leads only)."""
    reason = c.status_reason or ""
    if c.hold_flag_id and c.status == "held":
        return f"review flag {c.hold_flag_rule or c.hold_flag_id} (lead releases): {reason}"
    if c.status_by:
        return f"{c.status_by}: {reason}"
    return "" if c.status in ("requested", "paid") else "as imported"


def refunds_line(r: RefundCountsLike) -> str:
    return f"{plural(r.refunds, 'refund')}, {plural(r.chargebacks, 'chargeback')}, {plural(r.disputes, 'dispute')}"


def spend_line(spend: Sequence[SpendLike]) -> str:
    return ", ".join(f"{s.spent} ({plural(s.purchases, 'purchase')}; {s.refunded} refunded)" for s in spend) \
        or "nothing"


def glance_line(g: SummaryLike) -> str:
    """One line (fits 80 columns): what is there of open flags, refunds, chargebacks and disputes, the spend,
    cashouts not yet paid."""
    r = g.refunds
    counts = [(len(g.flags.open), "open flag"), (r.refunds, "refund"), (r.chargebacks, "chargeback"),
              (r.disputes, "dispute")]
    parts = [", ".join(plural(n, word) for n, word in counts if n) or "no flags or refunds",
             "spent " + (", ".join(s.spent for s in g.spend) or "nothing")]
    waiting = {k: v for k, v in g.cashouts.items() if k in ("requested", "held")}
    if waiting:
        parts.append("cashouts " + ", ".join(f"{n} {k}" for k, n in sorted(waiting.items())))
    return " · ".join(parts)
