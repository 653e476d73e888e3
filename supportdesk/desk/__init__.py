"""The one door both front-ends use (the application layer): one use case, one call.

Shape: ``Desk.open(ctx)`` builds a desk from the composition root (:class:`~supportdesk.desk.context.AppContext`:
settings, engine, identity). The CLI opens one per command; the TUI one per app (``Backend.desk``). A desk owns

- sessions and transactions: front-ends never open a session or write SQL;
- the actor (``Desk.acting``: who acts, why, under which ticket, with the role and its limits);
- settings, the refund policy and the stores' clock, each read once per desk;
- the store clients: ``Desk(ctx, clients={"web": fake})`` stands in for the configured ones (tests pass fakes
  this way, never by patching class attributes).

Use cases hang off it by name, each in its own module and returning typed results that the CLI serialises to its
documented JSON and the TUI renders:

- ``desk.reconcile`` (:mod:`.reconcile`): detect, sync first, fix exactly the confirmed findings, decide an
  amount_mismatch, fix one finding (re-checked first);
- ``desk.audit`` (:mod:`.audit`): the trail, verify the chain (and signed checkpoints), sign a checkpoint;
- ``desk.regions`` (:mod:`.regions`): what a country allows at a time, the country picker;
- ``desk.stores`` (:mod:`.stores`): sync the stores' records over a window;
- ``desk.refunds`` (:mod:`.refunds`): decide a refund (cause, ticket window, override, part), apply it once
  (crash-safe store protocol), the question and clawback in words;
- ``desk.tickets`` (:mod:`.tickets`): tickets (list, show, create, resolve, take, assign, status), their
  conversation (reply to the outbox, note, what the customer wrote) and the macros (list, fill for a ticket);
- ``desk.goodwill`` (:mod:`.goodwill`): credit coins, change an account's status; ``desk.cashouts``
  (:mod:`.cashouts`): plan and act on a cashout (hold, release, reject); ``desk.review`` (:mod:`.review`): the
  review queue (rebuild, keyset page, one flag's evidence, decide a flag);
- ``desk.accounts`` (:mod:`.accounts`): search, account story, ledger check/page, purchase story, home, batches.

Every use case of the CLI and the TUI goes through it; ``tui/backend.py`` keeps only one-line seams that Pilot
tests patch.

Services are imported inside the calls, so importing the desk costs the app's start nothing.
"""

from supportdesk.desk.desk import Desk

__all__ = ["Desk"]
