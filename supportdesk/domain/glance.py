"""The words for the account at a glance, the same in the CLI and the TUI: why a status, why a cashout is held
or rejected, and the one-line summary. Plain dicts from services/glance.py in, strings out."""

from __future__ import annotations

from typing import Any

from supportdesk.domain.text import day, plural


def status_why(st: dict[str, Any]) -> str:
    if st["source"] != "audit":
        return f"{st['status']} (as imported; no change recorded here)"
    ticket = f", {st['ticket_id']}" if st.get("ticket_id") else ""
    return f"{st['status']} since {day(st['at'])} by {st['by']}{ticket}: {st['reason']}"


def cashout_why(c: dict[str, Any]) -> str:
    """Who set the status and why; a hold a review flag caused names the flag's rule (release: leads only)."""
    reason = c.get("status_reason") or ""
    if c.get("hold_flag_id") and c["status"] == "held":
        return f"review flag {c.get('hold_flag_rule') or c['hold_flag_id']} (lead releases): {reason}"
    if c.get("status_by"):
        return f"{c['status_by']}: {reason}"
    return "" if c["status"] in ("requested", "paid") else "as imported"


def refunds_line(r: dict[str, int]) -> str:
    return (f"{plural(r['refunds'], 'refund')}, {plural(r['chargebacks'], 'chargeback')}, "
            f"{plural(r['disputes'], 'dispute')}")


def spend_line(spend: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['spent']} ({plural(s['purchases'], 'purchase')}; {s['refunded']} refunded)"
                     for s in spend) or "nothing"


def glance_line(g: dict[str, Any]) -> str:
    """One line (fits 80 columns): what is there of open flags, refunds, chargebacks and disputes, the spend,
    cashouts not yet paid."""
    r = g["refunds"]
    counts = [(len(g["flags"]["open"]), "open flag"), (r["refunds"], "refund"), (r["chargebacks"], "chargeback"),
              (r["disputes"], "dispute")]
    parts = [", ".join(plural(n, word) for n, word in counts if n) or "no flags or refunds",
             "spent " + (", ".join(s["spent"] for s in g["spend"]) or "nothing")]
    waiting = {k: v for k, v in g["cashouts"].items() if k in ("requested", "held")}
    if waiting:
        parts.append("cashouts " + ", ".join(f"{n} {k}" for k, n in sorted(waiting.items())))
    return " · ".join(parts)
