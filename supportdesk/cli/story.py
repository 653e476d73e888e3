"""The human rendering of an account's money story (the --json form is `AccountStory.to_json()`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Column, Table
from rich.text import Text

from supportdesk.cli.output import cells, err_console, plain, say
from supportdesk.domain.glance import cashout_why, refunds_line, spend_line, status_why
from supportdesk.domain.money import format_money
from supportdesk.domain.text import day, plural

if TYPE_CHECKING:
    from supportdesk.desk.accounts import AccountStory


def print_story(story: AccountStory) -> None:
    a, b = story.account, story.balances
    say((a.handle, "bold"), f" {a.account_id}  {a.email}  {a.country}  {a.kind}  ", (a.status, "bold"))
    for asset, bal in (("coin", b.coin), ("diamond", b.diamond)):
        drift = ("", "") if not bal.drift else (f"  drift {bal.drift:+,}", "red")
        ledger = "not summed" if bal.ledger is None else f"{bal.ledger:,}"
        say(f"  {asset}s: ledger {ledger}  cached {bal.cached:,}", drift)
    purchases = Table(Column("purchase", no_wrap=True, min_width=16), "store", "store txn", "coins",
                      Column("price", no_wrap=True), "when", "status", "rgn", box=None,
                      title="purchases (rgn: was buying coins allowed there and then)", title_justify="left")
    for p in story.purchases:
        verdict = p.region_at_purchase
        region = Text("✓", style="green") if verdict.allowed else plain(f"✗ {verdict.rule}", "red")
        purchases.add_row(*cells(p.purchase_id, p.store, p.store_transaction_id, f"{p.coins:,}",
                                 format_money(p.price_minor, p.currency), day(p.purchased_at), p.status), region)
    err_console.print(purchases)
    entries = Table(Column("entry", no_wrap=True, min_width=17), "asset", "amount", "kind", "ref", "when", "actor",
                    box=None, title_justify="left", title=f"ledger ({len(story.ledger)} of {story.ledger_total})")
    for e in story.ledger:
        entries.add_row(*cells(e.entry_id, e.asset, f"{e.amount:+,}", e.kind, e.ref or "", day(e.at), e.actor))
    err_console.print(entries)
    print_glance(story)
    gifts = story.gifts
    say(f"gifts: {len(gifts.sent)} sent, {len(gifts.received)} received; "
        f"{plural(len(story.cashouts), 'cashout')}; {plural(len(story.tickets), 'ticket')}")
    for t in story.tickets:
        say(f"  {t.ticket_id} [{t.status}] {t.subject}")


def print_glance(story: AccountStory) -> None:
    """Why the status, flags, refunds, spend, and the cashouts with their hold and reject reasons."""
    g = story.summary
    say("status ", status_why(g.status))
    for f in g.flags.all():
        decided = f" by {f.decided_by}: {f.reason}" if f.decided_by else ""
        say(f"  flag {f.rule} score {f.score} [{f.status}]{decided}  {f.flag_id}")
    say(f"{refunds_line(g.refunds)}; lifetime spend {spend_line(g.spend)}")
    if not story.cashouts:
        return
    table = Table(Column("cashout", no_wrap=True), "diamonds", Column("amount", no_wrap=True), "status", "when",
                  "why", box=None, title="cashouts", title_justify="left")
    for c in story.cashouts:
        table.add_row(*cells(c.cashout_id, f"{c.diamonds:,}", format_money(c.amount_minor, c.currency),
                             c.status, day(c.at), cashout_why(c)))
    err_console.print(table)
