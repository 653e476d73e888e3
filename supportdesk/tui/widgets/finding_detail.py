"""The reconcile screen's detail pane: one finding (both sides' records, the kind's numbers, its fix or why it
has none, and the fix's outcome once applied), or what a kind means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from supportdesk.desk.reconcile import describe
from supportdesk.domain.findings import Finding
from supportdesk.tui.format import money, plain, shown, when

SHORT = {
    "missing_purchase": "store charged, no purchase here",
    "uncredited_purchase": "purchase never credited",
    "duplicate_credit": "credited more than once",
    "unapplied_refund": "store refunded, coins kept",
    "balance_drift": "cached balance ≠ ledger",
    "amount_mismatch": "unexpected price, agent decides",
    "wrong_credit_amount": "credit ≠ purchase's coins",
    "misdirected_credit": "credited to another account",
    "unknown_to_store": "credited, store never charged",
}
MEANING = {
    "unknown_to_store": "We hold and credited this purchase, but its store answers that it has no such "
                        "transaction, order or charge (Apple after the Sandbox fallback). A forged receipt is the "
                        "classic case. The fix reverses the credit: a lead's call, with a reason and a ticket.",
    "missing_purchase": "The store charged for a transaction we have no purchase for. The fix creates the "
                        "purchase and credits the coins of the price point in force then (a promotion's bonus "
                        "included).",
    "uncredited_purchase": "We have a completed purchase but no coins were ever credited for it. The fix "
                           "credits them.",
    "duplicate_credit": "One purchase was credited more than once. The fix reverses the extra credits.",
    "unapplied_refund": "The store refunded or charged back a purchase and the account still has its coins. "
                        "The fix marks the purchase and claws the coins back; coins already spent stay as a "
                        "debt and limit the account.",
    "balance_drift": "The cached balance disagrees with the ledger's sum (the ledger is the truth). The fix "
                     "sets the cached balance to the ledger's.",
    "amount_mismatch": "The store charged a price that no price point in force allows (or nothing, or a "
                       "negative amount). Never fixed automatically: for a charge we hold no purchase for, the "
                       "agent decides (supportdesk reconcile --decide: credit the bundle, or refund the charge).",
    "wrong_credit_amount": "A purchase's credit is not the purchase's coins. The fix reverses that credit and "
                           "credits the purchase's coins, once.",
    "misdirected_credit": "A purchase's credit went to another account. The fix reverses it there and credits "
                          "the buyer, once.",
}
LABELS = {
    "store": "store", "store_transaction_id": "transaction", "order_id": "order", "purchase_id": "purchase",
    "account": "account", "product_id": "product", "price": "price", "coins": "coins", "country": "country",
    "purchased_at": "when", "state": "state", "refunded": "refunded", "refund_reason": "refund reason",
}


@dataclass
class Outcome:
    """A fix's outcome, as the detail pane and the tree's labels show it."""

    replayed: bool
    result: dict[str, Any]
    balances: dict[str, Any] | None = None  # the account's, read right after the fix
    skipped: bool = False  # the finding changed or vanished since it was confirmed; `result` says why

    @property
    def words(self) -> str:
        if self.skipped:
            return "not applied"
        return "already done (replayed)" if self.replayed else "applied"


class FindingDetail(VerticalScroll):
    """A scrolling pane holding one rendered finding or kind (`#rc-detail-text` inside)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="rc-detail-text")

    def show_finding(self, f: Finding, handle: str | None, outcome: Outcome | None) -> None:
        self.query_one("#rc-detail-text", Static).update(finding_detail(f, handle, outcome))

    def show_kind(self, kind: str, count: int) -> None:
        self.query_one("#rc-detail-text", Static).update(
            Group(Text(f"{kind}: {count:,} found", style="bold"), Text(MEANING.get(kind, ""))))

    def clear(self) -> None:
        self.query_one("#rc-detail-text", Static).update("")


def finding_detail(f: Finding, handle: str | None, outcome: Outcome | None) -> RenderableType:
    if f.kind == "balance_drift":  # the fix moves the cached balance, of coins or diamonds
        amount = (f"cached {f.detail['asset']} ", f"{f.detail['ledger'] - f.detail['cached']:+,}")
    else:
        amount = ("coins ", f"{f.coins:+,}")
    head = Text.assemble((f.kind, "bold"), "  ", (SHORT.get(f.kind, ""), "dim"), "\n",
                         "account ", (shown(handle or ""), "bold"), " ", shown(f.account_id or "unknown"),
                         "   ", amount[0], (amount[1], "bold"))
    parts: list[RenderableType] = [head]
    if outcome is not None:
        parts.append(plain(f"Fix {outcome.words}: {fix_summary(f.kind, outcome.result)}", style="bold green"))
        if outcome.balances is not None:
            parts.append(Text("Balances now: ").append_text(balance_text(outcome.balances, asset_of(f))))
    elif f.fixable:
        parts.append(Text.assemble(("Fix (f): ", "bold"), shown(describe(f))))
    elif f.decidable:
        parts.append(plain(f"Never fixed automatically; the agent decides: {describe(f)}, or refund the charge "
                           f"(supportdesk reconcile --decide {f.store_transaction_id} --credit|--refund-charge).",
                           style="yellow"))
    else:
        why = f.detail.get("why_not_fixable") or "this kind is reported only, never fixed automatically"
        parts.append(plain(f"Report only: {why}.", style="yellow"))
    if outcome is not None and f.kind == "balance_drift":  # the drift is gone: say what it was, not what it is
        parts.extend(Text.assemble(("Before the fix: ", "dim"), fact) for fact in kind_facts(f))
    else:
        parts.extend(kind_facts(f))
    sides = compare(f)
    if sides is not None:
        parts.append(sides)
    parts.append(plain(f"idempotency key {f.key}", style="dim"))
    return Group(*parts)


def asset_of(f: Finding) -> str:
    return str(f.detail.get("asset", "coin")) if f.kind == "balance_drift" else "coin"


def balance_text(balances: dict[str, Any], asset: str = "coin") -> Text:
    """The balance of the asset a finding is about: a diamond drift's fix is reported in diamonds."""
    now = balances[asset]
    text = Text(f"{'coins' if asset == 'coin' else 'diamonds'} {now['ledger']:,} (cached {now['cached']:,})")
    if now["drift"]:
        text.append(f" · drift {now['drift']:+,}", style="bold red")
    if now["ledger"] < 0:
        text.append(f" · debt {-now['ledger']:,}", style="bold red")
    return text


def fix_summary(kind: str, result: dict[str, Any]) -> str:
    """What the fix posted, from its result (the first run's result when replayed)."""
    parts = []
    if kind == "missing_purchase" and result.get("purchase_id"):
        parts.append(f"purchase {result['purchase_id']} created")
    if result.get("status"):
        parts.append(f"purchase {result.get('purchase_id')} {result['status']}")
    entries = result.get("entries") or []
    if entries:
        parts.append(", ".join(f"{e['entry_id']} {e['amount']:+,} {e['asset']}" for e in entries))
    if "cached_after" in result:
        parts.append(f"cached {result['asset']} {result['cached_before']:,} → {result['cached_after']:,}")
    if result.get("limited"):
        parts.append("account limited (debt)")
    return "; ".join(parts) or "nothing left to post"


def kind_facts(f: Finding) -> list[Text]:
    """The kind's own numbers: drift, extra credits, the prices in force."""
    d = f.detail
    if f.kind == "balance_drift":
        return [Text.assemble(f"{d['asset']} balance: ledger ", (f"{d['ledger']:,}", "bold"), "  cached ",
                              (f"{d['cached']:,}", "bold"), "  drift ",
                              (f"{d['cached'] - d['ledger']:+,}", "bold red"))]
    if f.kind == "duplicate_credit":
        return [plain(f"{d['credits']} credits, {d['credited_coins']:,} coins in all; extra entries: "
                     f"{', '.join(d['extra_entries'])}")]
    if f.kind == "unapplied_refund" and "clawed" in d:
        return [Text(f"The store refunded more after our clawback: {d['clawed']:,} coins clawed back already; "
                     f"claw back {-f.coins:,} more. Purchase stays {d['new_status']}.")]
    if f.kind == "unapplied_refund":
        return [Text(f"Purchase becomes {d['new_status']}; claw back {-f.coins:,} coins.")]
    if f.kind == "missing_purchase" and d.get("bonus_coins"):
        return [Text(f"Includes {d['bonus_coins']:,} promotion bonus coins.")]
    if f.kind == "amount_mismatch":
        charged = d["charged"]
        lines = [Text.assemble("charged ", (money(charged["minor"], charged["currency"]), "bold red"),
                               "; price points in force:")]
        for p in d["price_points_in_force"]:
            bonus = f" +{p['bonus_coins']:,} bonus" if p.get("bonus_coins") else ""
            until = when(p["valid_to"]) if p.get("valid_to") else "open"
            lines.append(Text(f"  {money(p['price_minor'], p['currency'])} for {p['coins']:,} coins{bonus}, "
                              f"{when(p['valid_from'])} to {until}"))
        return lines
    return []


def compare(f: Finding) -> Table | None:
    """Both sides, field by field, values that disagree in red; a side the check did not read is left out,
    except our missing purchase, which is the point of a missing_purchase."""
    store, ours = f.detail.get("store_record"), f.detail.get("purchase")
    if store is None and ours is None:
        return None
    table = Table(box=None, pad_edge=False, show_edge=False, expand=False, padding=(0, 1))
    table.add_column("", style="dim", no_wrap=True)
    columns = []
    if store is not None:
        table.add_column("store record", overflow="fold", header_style="bold")
        columns.append(side(store, store=True))
    if ours is not None or f.kind == "missing_purchase":
        table.add_column("our purchase", overflow="fold", header_style="bold")
        columns.append(side(ours, store=False) if ours is not None else {"store": "none"})
    for name in ("store", "store_transaction_id", "order_id", "purchase_id", "account", "product_id", "price",
                 "coins", "country", "purchased_at", "state", "refunded", "refund_reason"):
        values = [c.get(name, "") for c in columns]
        if not any(values):
            continue
        differ = len(values) == 2 and all(values) and values[0] != values[1] and name not in ("state", "account")
        table.add_row(LABELS.get(name, name), *(plain(v, style="bold red" if differ else "") for v in values))
    return table


def side(row: dict[str, Any] | None, *, store: bool) -> dict[str, str]:
    if row is None:
        return {}
    out = {k: str(row.get(k) or "") for k in ("store", "store_transaction_id", "order_id", "purchase_id",
                                                "product_id", "country", "refund_reason")}
    out["price"] = money(row.get("price_minor"), row.get("currency"))
    out["purchased_at"] = when(row.get("purchased_at"))
    if store:
        out["account"] = str(row.get("account_ref") or "")
        out["state"] = str(row.get("state") or "")
        if row.get("refunded_at"):
            amount = money(row.get("refunded_minor"), row.get("currency")) if row.get("refunded_minor") else ""
            out["refunded"] = f"{when(row['refunded_at'])} {amount}".strip()
    else:
        out["account"] = str(row.get("account_id") or "")
        out["state"] = str(row.get("status") or "")
        out["coins"] = f"{row['coins']:,}" if row.get("coins") is not None else ""
    return out
