"""Reconcile one account or all: findings grouped by kind, both sides' records, and a fix per finding.

The run (an optional store sync, then the six checks) is one cancellable worker; each fix is asked for a
reason, confirmed in words that say exactly what will be posted, and applied in its own worker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, ProgressBar, Static, Tree
from textual.worker import Worker, get_current_worker

from supportdesk.domain.findings import KINDS, Finding, summarise
from supportdesk.tui.format import money, plain, plural, shown, when
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

CHECKS = len(KINDS)  # one detector per kind, in the order `reconcile` runs them
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
    replayed: bool
    result: dict[str, Any]
    balances: dict[str, Any] | None = None  # the account's, read right after the fix
    skipped: bool = False  # the finding changed or vanished since it was confirmed; `result` says why

    @property
    def words(self) -> str:
        if self.skipped:
            return "not applied"
        return "already done (replayed)" if self.replayed else "applied"


class ReconcileScreen(DeskScreen):
    BINDINGS = [
        Binding("escape", "cancel_run", "Cancel", id="cancel_run"),
        Binding("escape", "close_detail", "Close", id="close_detail"),
        Binding("escape", "back", "Back", id="back"),
        Binding("f", "fix_finding", "Fix", id="fix_finding"),
        Binding("r", "refresh", "Rerun", id="refresh"),
        Binding("s", "toggle_sync", "Sync", id="toggle_sync"),
        Binding("o", "open_account", "Account", id="open_account"),
        Binding("c", "copy_id", "Copy id", show=False, id="copy_id"),
        Binding("right_square_bracket", "jump_kind(1)", "Next kind", show=False, id="next_kind"),
        Binding("left_square_bracket", "jump_kind(-1)", "Previous kind", show=False, id="previous_kind"),
    ]

    class Progress(Message):
        def __init__(self, run: int, stage: str, done: int, total: int | None) -> None:
            super().__init__()
            self.run, self.stage, self.done, self.total = run, stage, done, total

    class Finished(Message):
        def __init__(self, run: int, findings: list[Finding], handles: dict[str, str], checks: int,
                     synced: int | None, cancelled: bool, failed: dict[str, str] | None = None) -> None:
            super().__init__()
            self.run, self.findings, self.handles = run, findings, handles
            self.checks, self.synced, self.cancelled = checks, synced, cancelled
            self.failed = failed or {}  # store -> why it could not be synced: its findings are stale

    class Fixed(Message):
        def __init__(self, run: int, index: int, outcome: Outcome, balances: dict[str, Any] | None) -> None:
            super().__init__()
            self.run, self.index, self.outcome, self.balances = run, index, outcome, balances

    def __init__(self, backend: Backend, account_id: str | None = None, handle: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.account_id = account_id
        self.handle = handle
        self.stores = backend.configured_stores()
        self.sync_first = bool(self.stores)
        self.findings: list[Finding] = []
        self.handles: dict[str, str] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.checks = 0  # detectors that ran in the last run
        self.current: int | None = None  # the highlighted finding
        self.run = 0
        self.running = False
        self.syncing = False  # the run is waiting on the stores (a call in flight can take its whole timeout)
        self.fixing = False
        self.changed = False  # a fix was applied: whoever opened this screen reloads
        self.last_answer: Answer = ("", None)  # the next fix starts from the last reason and ticket
        self.worker: Worker[None] | None = None
        self.run_done = asyncio.Event()  # set when a run's result (or failure) is shown
        self.finished_at: datetime | None = None  # when the last run's findings came in
        self.failed_stores: dict[str, str] = {}  # stores the last run could not sync: their findings are stale

    def compose(self) -> ComposeResult:
        yield Static("", id="rc-head")
        with Horizontal(id="rc-run"):
            yield ProgressBar(total=None, show_eta=False, id="rc-bar")
            yield Static("", id="rc-status")
        tree: Tree[int | str] = Tree("findings", id="rc-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree
        with VerticalScroll(id="rc-detail"):
            yield Static("", id="rc-detail-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_head()
        self.action_refresh()

    # --- state and keys ------------------------------------------------------------------------------------

    @property
    def detail_open(self) -> bool:
        return self.has_class("-open")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.running
        if action == "close_detail":
            return self.detail_open and not self.running
        if action == "back":
            return not self.running and not self.detail_open
        if action == "toggle_sync":
            return None if self.running else bool(self.stores)
        if action in ("fix_finding", "refresh"):
            return None if self.running else True
        if action == "open_account":
            return self.account_id is None
        return True

    def set_running(self, running: bool) -> None:
        self.running = running
        self.query_one("#rc-bar", ProgressBar).display = running
        self.refresh_bindings()

    def show_head(self) -> None:
        who = f"{self.handle} {self.account_id}" if self.handle else (self.account_id or "all accounts")
        if not self.stores:
            mode = "offline: no stores configured"
        elif self.sync_first:
            mode = f"sync first: {', '.join(self.stores)}"
        else:
            mode = "offline: store records synced before"
        head = Text.assemble(("Reconcile ", "bold"), (shown(who), "bold"), "  ·  ", (shown(mode), "dim"))
        self.query_one("#rc-head", Static).update(head)

    def status(self, text: str | Text) -> None:
        self.query_one("#rc-status", Static).update(text)

    # --- the run -------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.running:
            return
        self.run += 1
        self.run_done.clear()
        self.findings, self.handles, self.outcomes, self.current = [], {}, {}, None
        self.close_detail()
        self.set_running(True)
        self.fill_tree(checks=0)
        bar = self.query_one("#rc-bar", ProgressBar)
        bar.update(total=None if self.sync_first else CHECKS, progress=0)
        self.status("Syncing the stores… Esc to cancel" if self.sync_first else "Checking… Esc to cancel")
        self.syncing = self.sync_first
        self.worker = self.run_reconcile(self.run, self.sync_first)

    def action_cancel_run(self) -> None:
        if self.running and self.worker is not None:
            self.worker.cancel()
            if self.syncing:
                # A store call in flight ends when the store answers or times out (30 s): the agent does not
                # wait for it. The run ends now; the worker stops after that call and whatever it still posts
                # is for an older run, and dropped (what it saved meanwhile is store records, kept either way).
                self.run += 1
                self.on_reconcile_screen_finished(self.Finished(self.run, [], {}, 0, None, cancelled=True))
                return
            self.status("Cancelling after the current step…")

    @work(thread=True, exclusive=True, group="reconcile", exit_on_error=False)
    def run_reconcile(self, run: int, sync_first: bool) -> None:
        def cancelled() -> bool:
            return get_current_worker().is_cancelled

        checks = 0

        def on_progress(stage: str, done: int, total: int | None) -> None:
            nonlocal checks
            if stage == "finding":
                checks = done
            self.post_message(self.Progress(run, stage, done, total))

        try:
            synced, failed = None, {}
            if sync_first:
                result = self.backend.sync_stores(self.account_id, progress=on_progress, cancelled=cancelled)
                synced = sum(c.fetched for c in result.synced.values()) if result else None
                failed = {store: e["message"] for store, e in result.failed.items()} if result else {}
                if result and result.cancelled:
                    self.post_message(self.Finished(run, [], {}, 0, synced, cancelled=True))
                    return
            found = self.backend.reconcile(self.account_id, progress=on_progress, cancelled=cancelled)
            handles = self.backend.handles(f.account_id for f in found.findings if f.account_id)
        except Exception:
            if cancelled():  # nobody waits for an error any more; say the run stopped
                self.post_message(self.Finished(run, [], {}, checks, None, cancelled=True))
                return
            raise
        self.post_message(self.Finished(run, found.findings, handles, checks, synced, found.cancelled, failed))

    def on_reconcile_screen_progress(self, message: Progress) -> None:
        if message.run != self.run or self.worker is None or self.worker.is_cancelled:
            return
        bar = self.query_one("#rc-bar", ProgressBar)
        if message.stage == "finding":
            self.syncing = False
            bar.update(total=message.total, progress=message.done)
            self.status(f"Checked {message.done} of {message.total} kinds · Esc to cancel")
        elif message.stage != "fixing":  # a store's sync: records so far, no total known
            bar.update(total=None)
            self.status(f"Syncing {message.stage}: {message.done:,} records · Esc to cancel")

    def on_reconcile_screen_finished(self, message: Finished) -> None:
        if message.run != self.run:
            return
        self.findings, self.handles, self.checks = message.findings, message.handles, message.checks
        self.syncing = False
        self.failed_stores = message.failed
        self.finished_at = datetime.now()
        self.set_running(False)
        self.fill_tree(message.checks)
        self.status(self.summary(message))
        self.run_done.set()

    def worker_failed(self, worker: Worker[object]) -> None:
        if worker.group == "reconcile" and worker is self.worker and not worker.is_cancelled:
            self.set_running(False)
            self.fill_tree(checks=0)  # nothing shown as checked
            self.status(Text("The run failed (see the error). r to run again.", style="bold red"))
            self.run_done.set()
        elif worker.group == "fix":
            self.fixing = False
            self.status(Text("The fix failed (see the error); nothing was posted.", style="bold red"))

    def summary(self, message: Finished) -> Text:
        line = self.summary_line(message)
        for store, why in message.failed.items():
            line.append(f"\n{store} could not be synced ({why}): its findings are stale. r retries.",
                        style="bold red")
        return line

    def summary_line(self, message: Finished) -> Text:
        s = summarise(self.findings)
        synced = "" if message.synced is None else f" · {message.synced:,} store records synced"
        if message.cancelled:
            if not message.checks:
                done = "" if message.synced is None else f" ({message.synced:,} store records synced)"
                return Text(f"Cancelled before any check{done}. r reruns.", style="bold yellow")
            return Text(f"Cancelled after {message.checks} of {CHECKS} checks: {plural(s['total'], 'finding')} "
                        "so far. r reruns.", style="bold yellow")
        if not self.findings:
            where = "this account" if self.account_id else "any account"
            return Text(f"No findings: {where} is consistent{synced}.", style="green")
        fixable = sum(f.fixable for f in self.findings)
        where = "" if self.account_id else f" on {plural(s['accounts'], 'account')}"
        line = f"{plural(s['total'], 'finding')}{where}, {fixable:,} fixable{synced}."
        return Text(line + " Enter opens one." if len(line) < 60 else line)

    # --- the list ------------------------------------------------------------------------------------------

    def fill_tree(self, checks: int) -> None:
        tree: Tree[int | str] = self.query_one("#rc-tree", Tree)
        tree.clear()
        by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
        for index, f in enumerate(self.findings):
            by_kind[f.kind].append(index)
        first_line = first = None  # show_root is off: line 0 is the first kind
        for position, kind in enumerate(KINDS):
            indexes = by_kind[kind]
            node = tree.root.add(self.kind_label(kind, len(indexes), checked=position < checks), data=kind,
                                 expand=True, allow_expand=bool(indexes))
            for index in indexes:
                node.add_leaf(self.leaf_label(index), data=index)
            if indexes and first_line is None:
                first_line, first = position + 1, indexes[0]  # the kinds before it are empty, one line each
        self.show_detail()
        if first_line is not None:
            tree.cursor_line = first_line  # highlights the first finding
            # Said here too: when the cursor was on that line already, no NodeHighlighted comes.
            self.current = first
            self.show_detail(first)
        tree.focus()

    def kind_label(self, kind: str, count: int, checked: bool) -> Text:
        if not checked:
            return Text.assemble((kind, "dim"), ("  checking…" if self.running else "  not checked", "dim italic"))
        fixed = sum(1 for i in self.outcomes if self.findings[i].kind == kind)
        counts = f"{count:,}" + (f", {fixed:,} fixed" if fixed else "")
        return Text.assemble((kind, "bold" if count else "dim"), (f" ({counts})", "bold" if count else "dim"),
                             ("  " + SHORT.get(kind, ""), "dim"))

    def leaf_label(self, index: int) -> Text:
        f = self.findings[index]
        who = self.handles.get(f.account_id or "") or f.account_id or "unknown account"
        if f.kind == "balance_drift":
            d = f.detail
            amount = f"{d['ledger'] - d['cached']:+,}"
            ident = f"{d['asset']} {d['cached']:,} → {d['ledger']:,}"
        else:
            amount = f"{f.coins:+,}"
            ident = f.store_transaction_id or f.purchase_id or ""
        label = plain(f"{shown(who)[:16]:<16} {amount:>7} {f.store or '':<6} {ident}")
        outcome = self.outcomes.get(index)
        if outcome is not None:
            label.append("  ✓ fixed" if not outcome.replayed else "  ✓ done before", style="bold green")
        elif not f.fixable:
            label.append("  report only", style="dim")
        if f.store in self.failed_stores:
            label.append("  stale", style="yellow")
        return label

    def refresh_labels(self, index: int) -> None:
        tree: Tree[int | str] = self.query_one("#rc-tree", Tree)
        for kind_node in tree.root.children:
            if kind_node.data == self.findings[index].kind:
                kind_node.set_label(self.kind_label(kind_node.data, len(kind_node.children), checked=True))
                for leaf in kind_node.children:
                    if leaf.data == index:
                        leaf.set_label(self.leaf_label(index))

    @on(Tree.NodeHighlighted, "#rc-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[int | str]) -> None:
        data = event.node.data
        self.current = data if isinstance(data, int) else None
        self.show_detail(data)

    @on(Tree.NodeSelected, "#rc-tree")
    def _selected(self, event: Tree.NodeSelected[int | str]) -> None:
        if isinstance(event.node.data, int):
            self.current = event.node.data
            self.show_detail(event.node.data)
            self.add_class("-open")
            self.query_one("#rc-detail").focus()
            self.refresh_bindings()

    def action_jump_kind(self, step: int) -> None:
        """To the first finding of the next (or previous) kind that has any."""
        tree: Tree[int | str] = self.query_one("#rc-tree", Tree)
        kinds = [node for node in tree.root.children if node.children]
        if not kinds:
            return
        node = tree.cursor_node
        here = node.parent if node is not None and isinstance(node.data, int) else node
        position = next((i for i, k in enumerate(kinds) if k is here), None)
        if position is None:  # on an empty kind: the nearest kind in that direction
            order = list(tree.root.children)
            at = order.index(here) if here in order else -1
            ahead = [k for k in kinds if (order.index(k) > at) == (step > 0)]
            target = (ahead[0] if step > 0 else ahead[-1]) if ahead else None
        else:
            index = position + step
            target = kinds[index] if 0 <= index < len(kinds) else None
        if target is None:
            self.notify("No more kinds that way.")
            return
        target.expand()
        tree.move_cursor(target.children[0])

    def action_close_detail(self) -> None:
        self.close_detail()

    def close_detail(self) -> None:
        if self.detail_open:
            self.remove_class("-open")
            self.query_one("#rc-tree").focus()
            self.refresh_bindings()

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_sync(self) -> None:
        if not self.stores:
            self.notify("No stores are configured (--config): reconciling the store records synced before.")
            return
        self.sync_first = not self.sync_first
        self.show_head()
        self.notify(("Sync first: on" if self.sync_first else "Offline: using the store records synced before")
                    + ". r runs again.")

    def action_copy_id(self) -> None:
        if self.current is None:
            self.notify("Highlight a finding first.", severity="warning")
            return
        f = self.findings[self.current]
        key = f.store_transaction_id or f.purchase_id or f.account_id or f.key
        self.app.copy_to_clipboard(key)
        self.notify(f"Copied {shown(key)}", markup=False)

    def action_open_account(self) -> None:
        if self.current is None or not self.findings[self.current].account_id:
            self.notify("Highlight a finding with an account first.", severity="warning")
            return
        self.post_message(Open.Account(self.findings[self.current].account_id or ""))

    # --- the detail pane -----------------------------------------------------------------------------------

    def show_detail(self, data: int | str | None = None) -> None:
        text = self.query_one("#rc-detail-text", Static)
        if isinstance(data, int):
            text.update(self.finding_detail(data))
        elif isinstance(data, str):
            n = sum(1 for f in self.findings if f.kind == data)
            text.update(Group(Text(f"{data}: {n:,} found", style="bold"), Text(MEANING.get(data, ""))))
        else:
            text.update("")

    def finding_detail(self, index: int) -> RenderableType:
        f = self.findings[index]
        handle = self.handles.get(f.account_id or "")
        if f.kind == "balance_drift":  # the fix moves the cached balance, of coins or diamonds
            amount = (f"cached {f.detail['asset']} ", f"{f.detail['ledger'] - f.detail['cached']:+,}")
        else:
            amount = ("coins ", f"{f.coins:+,}")
        head = Text.assemble((f.kind, "bold"), "  ", (SHORT.get(f.kind, ""), "dim"), "\n",
                             "account ", (shown(handle or ""), "bold"), " ", shown(f.account_id or "unknown"),
                             "   ", amount[0], (amount[1], "bold"))
        parts: list[RenderableType] = [head]
        outcome = self.outcomes.get(index)
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

    # --- the fix -------------------------------------------------------------------------------------------

    def action_fix_finding(self) -> None:
        if self.running:
            return
        if self.current is None:
            self.notify("Highlight a finding first (↑ ↓).", severity="warning")
            return
        index, f = self.current, self.findings[self.current]
        if index in self.outcomes:
            self.notify(f"Already fixed here: {self.outcomes[index].words}.")
            return
        if not f.fixable:
            why = f.detail.get("why_not_fixable") or "it is reported only, never fixed automatically"
            self.notify(shown(f"{f.kind} cannot be fixed here: {why}."), severity="warning", markup=False)
            return
        if self.fixing:
            self.notify("A fix is being applied; wait for it.", severity="warning")
            return
        reason, ticket = self.last_answer
        self.app.push_screen(ReasonScreen(f"Fix {f.kind}", describe(f), reason, ticket or ""),
                             partial(self._reason_given, self.run, index))

    def _reason_given(self, run: int, index: int, answer: Answer | None) -> None:
        if answer is None or run != self.run:
            return
        self.last_answer = answer
        reason, ticket = answer
        question = f"{describe(self.findings[index])}, reason {reason!r}, " + \
            (f"ticket {ticket}?" if ticket else "no ticket?")
        self.app.push_screen(ConfirmScreen(question, title="Post this fix?"),
                             partial(self._confirmed, run, index, reason, ticket))

    def _confirmed(self, run: int, index: int, reason: str, ticket: str | None, yes: bool | None) -> None:
        if run != self.run:
            return
        if not yes:  # n or Esc: back to the reason as typed, not thrown away
            f = self.findings[index]
            self.app.push_screen(ReasonScreen(f"Fix {f.kind}", describe(f), reason, ticket or "",
                                              ticket_as_typed=True), partial(self._reason_given, run, index))
            return
        self.fixing = True
        self.status("Applying the fix…")
        self.apply_fix(run, index, self.findings[index], reason, ticket)

    @work(thread=True, exclusive=True, group="fix", exit_on_error=False)
    def apply_fix(self, run: int, index: int, finding: Finding, reason: str, ticket: str | None) -> None:
        out = self.backend.fix(finding, reason, ticket)
        result = out["result"]
        if result is None:  # the finding changed or vanished since it was shown: nothing posted
            self.post_message(self.Fixed(run, index, Outcome(False, out["skipped"], skipped=True), out["balances"]))
            return
        self.post_message(self.Fixed(run, index, Outcome(bool(result.get("replayed")), result), out["balances"]))

    def on_reconcile_screen_fixed(self, message: Fixed) -> None:
        self.fixing = False
        self.changed = True
        message.outcome.balances = message.balances
        f = self.findings[message.index] if message.run == self.run else None
        if message.outcome.skipped:
            why = str(message.outcome.result.get("message", "the finding changed"))
            self.status(plain(f"Fix not applied: {why}. Press r to reconcile again.", style="bold yellow"))
            self.notify(shown(f"Fix not applied: {why}."), severity="warning", markup=False)
            return
        line = Text(f"Fix {message.outcome.words}", style="bold green")
        if f is not None and message.balances is not None:
            line.append(f" · {shown(self.handles.get(f.account_id or '') or f.account_id)} ")
            line.append_text(balance_text(message.balances, asset_of(f)))
        self.status(line)
        self.notify(f"Fix {message.outcome.words}.")
        if f is not None:
            self.outcomes[message.index] = message.outcome
            self.refresh_labels(message.index)
            if self.current == message.index:
                self.show_detail(message.index)


def describe(f: Finding) -> str:
    from supportdesk.services.fixes import describe as service_describe

    return service_describe(f)


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
