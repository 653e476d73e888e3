"""Refunds in words: the CLI's confirmation and the TUI panel say the same (pure: dicts in, text out).

Split out of `services.refunds` (issue #13), which re-exports both names.
"""

from __future__ import annotations

from typing import Any

from supportdesk.domain.money import format_money

STORE_WAY = {"web": "to the card of", "google": "through Google Play to"}


def question(view: dict[str, Any], reason: str, ticket: str | None, consented: bool) -> str:
    """Exactly what money moves, in one question."""
    d, p, c = view["decision"], view["purchase"], view["clawback"]
    why = f"; reason {reason!r}{f', ticket {ticket}' if ticket else ''}?"
    if d["outcome"] == "store_decides":
        a = d["consumption"]
        if not consented:
            return f"Check whether Apple asked about {p['purchase_id']} (nothing is sent without consent){why}"
        return (f"Answer Apple's consumption request for {p['purchase_id']} of {p['handle']}: "
                f"{a['refund_preference']}, {a['consumption_percentage'] / 1000:g}% of the coins spent, customer "
                f"consented; no money moves here{why}")
    money = format_money(d["refund_minor"], d["currency"])
    if d.get("partial_of"):
        money += f" (part of {format_money(d['partial_of'], d['currency'])})"
    text = f"Refund {money} {STORE_WAY.get(p['store'], 'to')} {p['handle']} for {p['purchase_id']}"
    if p["store"] == "google":
        text += " (revoked)"
    text += f" and claw back {c['coins']:,} coins from {p['handle']}"
    if c["debt"]:
        text += f" (leaves a debt of {c['debt']:,} coins{' and limits the account' if c['limits_account'] else ''})"
    for creator in c["creators"]:
        if creator["clawback"]:
            text += f", {creator['clawback']:,} diamonds from {creator['handle']}"
    if d["rule"] == "any.refund_in_progress":
        text = "Finish the refund already started: " + text[0].lower() + text[1:] + \
            " (the store is asked again with the same key, so it refunds at most once)"
    if d.get("overridden"):
        text = f"Override {d['overridden']} (audited as a lead's override): " + text[0].lower() + text[1:]
    return text + why


def clawback_lines(c: dict[str, Any]) -> list[str]:
    """The clawback preview in plain lines (the TUI panel shows the same)."""
    lines = [f"coins: {c['credited']:,} credited, {c['spent']:,} spent, {c['unspent']:,} unspent; "
             f"claw back {c['coins']:,} (balance {c['balance_before']:,} -> {c['balance_after']:,}"
             f"{', a debt: the account is limited' if c['limits_account'] else ''})"]
    for g in c["gifted"]:
        lines.append(f"gifted: {g['coins']:,} coins to {g['handle'] or g['creator_id']} ({g['gift_id']}, "
                     f"{g['event_id']}), {g['diamonds']:,} diamonds earned")
    for s in c["other_spending"]:
        lines.append(f"also used: {s['coins']:,} coins by {s['kind']} {s['ref'] or ''}".rstrip())
    for cr in c["creators"]:
        taken = f"claw back {cr['clawback']:,}" if cr["clawback"] else "no diamond clawback (policy)"
        lines.append(f"creator {cr['handle'] or cr['creator_id']}: {cr['diamonds_credited']:,} diamonds, "
                     f"{cr['cashed_out']:,} cashed out, {cr['not_cashed_out']:,} not; {taken}")
    return lines
