"""Reconcile: find what the stores and our ledger disagree on, and fix exactly what the agent confirmed.

The rule the front-ends used to get wrong lives here, once: a fix applies the findings that were shown and
confirmed (each detected again inside its own transaction; one that changed or vanished is skipped, with why),
never what a second detection run finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from supportdesk.domain.findings import Finding, summarise
from supportdesk.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.services.audit import ActionContext
    from supportdesk.services.scope import Scope
    from supportdesk.stores.sync import SyncResult

STORES = ("apple", "google", "web")
Progress = Callable[[str, int, int | None], None]
Cancelled = Callable[[], bool]
Row = dict[str, Any]


@dataclass
class Reconciliation:
    """One detection run: its findings, and the sync before it (None: offline, or no store configured)."""

    findings: list[Finding]
    synced: SyncResult | None = None
    cancelled: bool = False

    @property
    def failed_stores(self) -> dict[str, str]:
        """Store -> why it could not be synced: its findings rest on older records (stale)."""
        return {store: str(e["message"]) for store, e in self.synced.failed.items()} if self.synced else {}

    @property
    def fixable(self) -> list[Finding]:
        return [f for f in self.findings if f.fixable]

    def to_json(self) -> dict[str, Any]:
        """`findings` (each with `stale`), `summary` (counts and each store's sync status), `synced`."""
        from supportdesk.services.sync_first import mark_stale, store_status

        stores = store_status(self.synced)
        body: dict[str, Any] = {
            "findings": mark_stale([f.to_json() for f in self.findings], stores["failed_stores"]),
            "summary": {**summarise(self.findings), **stores}}
        if self.synced is not None:
            body["synced"] = self.synced.to_json()
        return body


@dataclass
class Fixes:
    """What applying confirmed fixes (or a decision) did: each row names its finding (`kind`, `idempotency_key`,
    ids); `applied` rows carry `replayed`, `skipped` rows `why` and `message`, `failed` rows the error."""

    applied: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    skipped: list[Row] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "failed": self.failed, "skipped": self.skipped}


@dataclass
class OneFix:
    """One finding's fix as the TUI applies it: the result (None when skipped), why it was skipped, and the
    account's balances read right after."""

    result: Row | None
    skipped: Row | None
    balances: Row | None

    @property
    def replayed(self) -> bool:
        return bool(self.result and self.result.get("replayed"))


def describe(f: Finding) -> str:
    """The fix in words: what will be posted (the confirmation's question)."""
    from supportdesk.services.fixes import describe as words

    return words(f)


def describe_refund(f: Finding) -> str:
    """A decidable charge's refund in words."""
    from supportdesk.services.fixes import describe_refund as words

    return words(f)


class ReconcileDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def configured_stores(self) -> list[str]:
        """The stores a sync asks (configured, or injected into the desk)."""
        from supportdesk.stores.sync import configured_stores

        known = set(configured_stores(self.desk.settings)) | set(self.desk.clients or {})
        return [s for s in STORES if s in known]

    def scope(self, account: str | None = None, store: str | None = None, since: str | None = None) -> Scope:
        """What to look at: one account (any key) or all, one store or all, purchases since (ISO 8601 or 30d)."""
        from supportdesk.domain.when import parse_when
        from supportdesk.services.scope import Scope

        if store not in (None, *STORES):
            raise InvalidInput(f"--store must be apple, google or web, not {store!r}")
        account_id = self.desk.account_id(account) if account else None
        return Scope(account_id=account_id, store=store, since=parse_when(since) if since else None)

    def for_account(self, account_id: str | None) -> Scope:
        """One account by its id (no look-up), or all."""
        from supportdesk.services.scope import Scope

        return Scope(account_id=account_id)

    def sync_first(self, scope: Scope, *, lookup_old: bool = False, progress: Progress | None = None,
                   cancelled: Cancelled | None = None) -> SyncResult | None:
        """Pull the stores' view of the scope first (one account: that customer only); None: no stores. A store
        that fails is in the result's `failed` and the others' findings still count."""
        from supportdesk.services.sync_first import sync_before

        return sync_before(self.desk.engine, self.desk.settings, scope, progress=progress, cancelled=cancelled,
                           lookup_old=lookup_old, now=self.desk.now(), clients=self.desk.clients)

    def detect(self, scope: Scope, *, progress: Progress | None = None, cancelled: Cancelled | None = None,
               synced: SyncResult | None = None) -> Reconciliation:
        """Every check over the scope, in one read session; `cancelled()` is asked between checks."""
        from supportdesk.services.reconcile import detect

        found = detect(self.desk.engine, scope, progress=progress, cancelled=cancelled)
        return Reconciliation(found.findings, synced, found.cancelled)

    def handles(self, account_ids: Iterable[str]) -> dict[str, str]:
        """Account id -> handle, for labelling findings."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.names import handles

        with read_session(self.desk.engine) as session:
            return handles(session, account_ids)

    def fix_confirmed(self, confirmed: list[Finding], who: ActionContext) -> Fixes:
        """Apply exactly the findings the agent confirmed, each in its own transaction and detected again
        first; findings that appeared since wait for the next confirmation."""
        from supportdesk.services.reconcile import apply_confirmed

        done = apply_confirmed(self.desk.engine, confirmed, who, refund_policy=self.desk.refund_policy)
        return Fixes(done.applied, done.failed, done.skipped)

    def decidable(self, findings: list[Finding], target: str) -> Finding:
        """The amount_mismatch the agent names (store transaction id, identity or key) among `findings`."""
        match = [f for f in findings if f.decidable and target in (f.store_transaction_id, f.identity, f.key)]
        if not match:
            raise NotFound(f"no amount_mismatch to decide for {target!r} in this reconcile (a charge we hold no "
                           "purchase for, whose amount matches no price point in force)")
        return match[0]

    def decide(self, f: Finding, decision: str, who: ActionContext) -> Fixes:
        """`credit` the bundle's coins, or `refund_charge` at the store and credit nothing: re-checked, once."""
        from supportdesk.services.decisions import refund_charge
        from supportdesk.services.reconcile import apply_one

        if decision == "credit":
            outcome, row = apply_one(self.desk.engine, f, who, decision=decision)
        elif decision == "refund_charge":
            outcome, row = refund_charge(self.desk.engine, f, who, self.desk.settings, self.desk.clients)
        else:
            raise InvalidInput(f"decide credit or refund_charge, not {decision!r}")
        return Fixes(applied=[row] if outcome == "applied" else [], skipped=[row] if outcome == "skipped" else [])

    def fix_one(self, f: Finding, reason: str, ticket_id: str | None) -> OneFix:
        """The fix of exactly the finding shown and confirmed, as the configured agent (role and limits apply);
        detected again first, skipped (with why) when it changed or vanished meanwhile."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup
        from supportdesk.services.reconcile import apply_one

        who = self.desk.acting(None, reason, ticket_id)
        outcome, row = apply_one(self.desk.engine, f, who, refund_policy=self.desk.refund_policy)
        balances = None
        if f.account_id:
            with read_session(self.desk.engine) as session:
                balances = lookup.balances(session, lookup.resolve_account(session, f.account_id))
        return OneFix(row if outcome == "applied" else None, row if outcome == "skipped" else None, balances)
