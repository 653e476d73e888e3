"""The reconcile screen's list: one node per kind (in the order the checks run, each with its count or "checking…"),
a leaf per finding (who, how much, which store and transaction, and whether it was fixed, is report only or stale)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from supportdesk.domain.findings import KINDS, Finding
from supportdesk.tui.format import plain, shown
from supportdesk.tui.widgets.finding_detail import SHORT, Outcome

Data = int | str  # a leaf: the finding's index; a kind's node: the kind


class FindingsTree(Tree[Data]):
    """Filled from one run's findings; the screen keeps the findings, the tree only labels and moves."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("findings", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.findings: list[Finding] = []
        self.handles: dict[str, str] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.failed_stores: dict[str, str] = {}
        self.running = False

    def fill(self, findings: list[Finding], handles: dict[str, str], outcomes: dict[int, Outcome],
             failed_stores: dict[str, str], *, checks: int, running: bool) -> int | None:
        """Every kind (the first `checks` as checked), their findings beneath; the cursor on the first finding,
        whose index is returned (None: no findings)."""
        self.findings, self.handles, self.outcomes = findings, handles, outcomes
        self.failed_stores, self.running = failed_stores, running
        self.clear()
        by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
        for index, f in enumerate(findings):
            by_kind[f.kind].append(index)
        first_line = first = None  # show_root is off: line 0 is the first kind
        for position, kind in enumerate(KINDS):
            indexes = by_kind[kind]
            node = self.root.add(self.kind_label(kind, len(indexes), checked=position < checks), data=kind,
                                 expand=True, allow_expand=bool(indexes))
            for index in indexes:
                node.add_leaf(self.leaf_label(index), data=index)
            if indexes and first_line is None:
                first_line, first = position + 1, indexes[0]  # the kinds before it are empty, one line each
        if first_line is not None:
            self.cursor_line = first_line  # highlights the first finding
        return first

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
        """After a fix: the finding's leaf and its kind's count."""
        for kind_node in self.root.children:
            if kind_node.data == self.findings[index].kind:
                kind_node.set_label(self.kind_label(str(kind_node.data), len(kind_node.children), checked=True))
                for leaf in kind_node.children:
                    if leaf.data == index:
                        leaf.set_label(self.leaf_label(index))

    def jump_kind(self, step: int) -> None:
        """To the first finding of the next (or previous) kind that has any."""
        kinds = [node for node in self.root.children if node.children]
        if not kinds:
            return
        node = self.cursor_node
        here = node.parent if node is not None and isinstance(node.data, int) else node
        position = next((i for i, k in enumerate(kinds) if k is here), None)
        if position is None:  # on an empty kind: the nearest kind in that direction
            order = list(self.root.children)
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
        self.move_cursor(target.children[0])
