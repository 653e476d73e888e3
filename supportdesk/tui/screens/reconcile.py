"""Reconcile one account or all: findings grouped by kind, both sides' records, and a fix per finding.

The run (an optional store sync, then the checks) is one cancellable worker; the screen composes the findings tree
(`widgets.findings_tree`), the detail pane (`widgets.finding_detail`) and, per fix, the fix dialog
(`screens.fix_dialog`: a reason, a confirmation in words that say exactly what will be posted); the fix is
applied through the desk in its own worker.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, ProgressBar, Static, Tree
from textual.worker import Worker, get_current_worker

from supportdesk.domain.findings import KINDS, Finding, summarise
from supportdesk.tui.format import plain, plural, shown
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.fix_dialog import FixDialog
from supportdesk.tui.screens.reason import Answer
from supportdesk.tui.widgets.finding_detail import FindingDetail, Outcome, asset_of, balance_text
from supportdesk.tui.widgets.findings_tree import FindingsTree

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

CHECKS = len(KINDS)  # one detector per kind, in the order `reconcile` runs them


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
        self.desk = backend.desk.reconcile
        self.account_id = account_id
        self.handle = handle
        self.stores = self.desk.configured_stores()
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
        yield FindingsTree(id="rc-tree")
        yield FindingDetail(id="rc-detail")
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
            found = self.desk.detect(self.desk.for_account(self.account_id), progress=on_progress,
                                     cancelled=cancelled)
            handles = self.desk.handles(f.account_id for f in found.findings if f.account_id)
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
        tree = self.query_one("#rc-tree", FindingsTree)
        first = tree.fill(self.findings, self.handles, self.outcomes, self.failed_stores, checks=checks,
                          running=self.running)
        self.show_detail()
        if first is not None:
            # Said here too: when the cursor was on that line already, no NodeHighlighted comes.
            self.current = first
            self.show_detail(first)
        tree.focus()

    def refresh_labels(self, index: int) -> None:
        self.query_one("#rc-tree", FindingsTree).refresh_labels(index)

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
        self.query_one("#rc-tree", FindingsTree).jump_kind(step)

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
        pane = self.query_one("#rc-detail", FindingDetail)
        if isinstance(data, int):
            f = self.findings[data]
            pane.show_finding(f, self.handles.get(f.account_id or ""), self.outcomes.get(data))
        elif isinstance(data, str):
            pane.show_kind(data, sum(1 for f in self.findings if f.kind == data))
        else:
            pane.clear()

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
        run = self.run
        FixDialog(self.app, f, self.last_answer, current=lambda: run == self.run, answered=self._answered,
                  confirmed=lambda reason, ticket: self._confirmed(run, index, reason, ticket)).open()

    def _answered(self, answer: Answer) -> None:
        self.last_answer = answer  # the next fix starts from it

    def _confirmed(self, run: int, index: int, reason: str, ticket: str | None) -> None:
        self.fixing = True
        self.status("Applying the fix…")
        self.apply_fix(run, index, self.findings[index], reason, ticket)

    @work(thread=True, exclusive=True, group="fix", exit_on_error=False)
    def apply_fix(self, run: int, index: int, finding: Finding, reason: str, ticket: str | None) -> None:
        out = self.desk.fix_one(finding, reason, ticket)
        if out.result is None:  # the finding changed or vanished since it was shown: nothing posted
            self.post_message(self.Fixed(run, index, Outcome(False, out.skipped or {}, skipped=True), out.balances))
            return
        self.post_message(self.Fixed(run, index, Outcome(out.replayed, out.result), out.balances))

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

