"""`supportdesk refund TARGET`: the refund decision with its rule and clawback; --apply carries it out once."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import confirm, emit, handled, say
from supportdesk.domain.text import when
from supportdesk.errors import InvalidInput


def refund_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A purchase id (pur_...) or the store's transaction or order id.")],
    apply: Annotated[bool, typer.Option("--apply", help="Carry the decision out (store call and clawback).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required with --apply).")] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="The ticket this refund belongs to.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Acting agent (default: configured).")] = None,
    key: Annotated[str | None, typer.Option("--idempotency-key",
                                            help="Default refund:<purchase id>: the same refund moves money once.")
                   ] = None,
    cause: Annotated[str, typer.Option("--cause", help="remorse, duplicate, fraud (also unauthorised use) or other "
                                                       "(goodwill...): fraud also claws back creators' diamonds where "
                                                       "the policy says so.")] = "remorse",
    amount: Annotated[int | None, typer.Option("--amount", metavar="MINOR",
                                               help="Refund only this much, in minor units (web; at most what the "
                                                    "decision refunds); coins are clawed back in proportion, "
                                                    "rounded down.")] = None,
    override: Annotated[bool, typer.Option("--override",
                                           help="Lead only: refund although the window or the refund limit refuses "
                                                "it; audited as an override with --reason.")] = False,
    consented: Annotated[bool, typer.Option("--customer-consented",
                                            help="Apple: the customer agreed that we answer Apple's consumption "
                                                 "request.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Decide a refund by the store's rules and our policy: the rule, why, and what would be clawed back."""
    from supportdesk.desk import Desk
    from supportdesk.desk.refunds import question
    from supportdesk.domain.tickets import ticket_id_of

    with handled(json_mode):
        state = ctx.obj
        refunds = Desk.open(state).refunds
        key = refunds.caller_key(key)
        if apply and not (reason and reason.strip()):
            raise InvalidInput(f"{'--override' if override else '--apply'} needs --reason TEXT: every refund is "
                               "audited with its reason")
        ticket_id = ticket_id_of(ticket) if ticket else None
        who = state.action_context(actor, reason, ticket_id) if apply else None
        if override and who is not None:
            refunds.require_override(who)  # said before anything is asked or written
        check = refunds.check(target, cause=cause, ticket_id=ticket_id, override=override, amount_minor=amount,
                              key=key, applying=apply)
        if not apply or check.first is not None:
            emit(check.to_json(), json_mode, _print_applied if check.first else _print)
            return
        refunds.deny(check)
        assert who is not None
        confirm(question(check.view, reason or "", who.ticket_id, consented), yes, json_mode)
        done = refunds.apply(target, who, key=key, cause=cause, customer_consented=consented, override=override,
                             amount_minor=amount, now=check.now)
        emit(done, json_mode, _print_applied)


def _print(body: dict[str, Any]) -> None:
    from supportdesk.domain.money import format_money  # babel tables: loaded when printing, not at startup

    d, p, c = body["decision"], body["purchase"], body["clawback"]
    colour = {"refund": "green", "store_decides": "yellow"}.get(d["outcome"], "red")
    say(f"{p['purchase_id']}  {p['store']}  {p['handle']}  {p['coins']:,} coins  "
        f"{format_money(p['price_minor'], p['currency'])}  {p['status']}  bought {when(p['purchased_at'])} UTC")
    say((d["outcome"], f"bold {colour}"), f" ({d['rule']})")
    say(f"  {d['explanation']}")
    if d.get("window"):
        say(f"  window {d['window']}")
    if d.get("overridable"):
        say("  a lead may override this with --override --reason TEXT", style="yellow")
    if d.get("overridden"):
        say(f"  a lead's override of {d['overridden']}", style="yellow")
    if d["outcome"] == "refund":
        say(f"  refund {format_money(d['refund_minor'], d['currency'])}")
    if d.get("consumption"):
        a = d["consumption"]
        say(f"  if Apple asks: {a['refund_preference']} ({a['why']}), "
            f"{a['consumption_percentage'] / 1000:g}% consumed, {a['delivery_status']}")
    from supportdesk.desk.refunds import clawback_lines

    for line in clawback_lines(c):
        say(f"  {line}")


def _print_applied(body: dict[str, Any]) -> None:
    from supportdesk.domain.money import format_money

    d, a = body["decision"], body["applied"]
    tag = "replayed (already done, nothing changed)" if a.get("replayed") else "applied"
    say((tag, "bold"), f": {d['rule']}")
    if a.get("store_call") in ("create_refund", "orders.refund"):
        say(f"  refunded {format_money(a['amount_minor'], a['currency'])} ({a['store_call']}, "
            f"{a.get('store_refund_id') or '-'}); clawed back {a['coins_clawed']:,} coins"
            f"{', ' + format(a['diamonds_clawed'], ',') + ' diamonds' if a['diamonds_clawed'] else ''}"
            f"{'; the account is limited' if a.get('limited') else ''}")
    elif a.get("consumption"):
        say(f"  answered Apple: {a['consumption']['refund_preference']}")
    if a.get("note"):
        say(f"  {a['note']}")
    for c in a.get("diamonds_for_lead") or []:
        say(f"  a lead must claw back {c['clawback']:,} diamonds from {c['creator_id']}", style="yellow")
