"""Hold (h), release (l) or reject (x) the cashout under the cursor: a reason and a ticket, the service's plan in a
worker (refusals end in the error modal, nothing written), the confirmation in the CLI's words, then the action
in a worker; the account reloads and says what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supportdesk.domain.glance import cashout_why
from supportdesk.tui.format import money
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen

if TYPE_CHECKING:
    from supportdesk.desk.accounts import CashoutRow
    from supportdesk.desk.cashouts import CashoutPlan
    from supportdesk.tui.navigation import CashoutView

TITLES = {"hold": "Hold cashout", "release": "Release cashout", "reject": "Reject cashout"}
WHAT = {"hold": "A hold stops the payout until someone releases it.",
        "release": "A release puts the cashout back in the payout queue.",
        "reject": "A rejection ends it: never paid, the diamonds go back to the creator."}


def describe(c: CashoutRow, action: str) -> str:
    why = cashout_why(c)
    lead = ("\nA review flag caused this hold: only a lead may lift it."
            if c.hold_flag_id and c.status == "held" and action != "hold" else "")
    return (f"{c.cashout_id}: {c.diamonds:,} diamonds, {money(c.amount_minor, c.currency)}, "
            f"{c.status}{' (' + why + ')' if why else ''}.\n{WHAT[action]}{lead}")


def open_cashout(screen: CashoutView, action: str) -> None:
    chosen = screen.chosen_cashout()
    if chosen is None:
        return
    account = screen.story.account.account_id if screen.story else None
    ask(screen, ReasonScreen(TITLES[action], describe(chosen, action), account_id=account), chosen.cashout_id, action)


def ask(screen: CashoutView, dialog: ReasonScreen, cashout_id: str, action: str) -> None:
    """Reason, then the plan (a worker), then the confirmation; n goes back to the reason as typed."""

    def given(answer: Answer | None) -> None:
        if answer is not None:
            screen.run_worker(lambda: planned(answer), thread=True, group="cashout-plan", exit_on_error=False)

    def planned(answer: Answer) -> None:
        plan = screen.backend.desk.cashouts.plan(cashout_id, action, screen.backend.desk.acting(None, *answer))
        screen.app.call_from_thread(confirm, answer, plan)

    def confirm(answer: Answer, plan: CashoutPlan) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                screen.run_worker(lambda: act(plan), thread=True, group="account-action", exit_on_error=False)
            else:
                ask(screen, dialog.again(answer), cashout_id, action)

        screen.app.push_screen(ConfirmScreen(plan.question, title=f"{TITLES[action]}?"), confirmed)

    def act(plan: CashoutPlan) -> None:
        result = screen.backend.desk.cashouts.act(plan).to_json()
        screen.app.call_from_thread(done, result)

    def done(result: dict[str, Any]) -> None:
        screen.notify(said(result), markup=False)
        screen.action_refresh()

    screen.app.push_screen(dialog, given)


def said(r: dict[str, Any]) -> str:
    what = f"Cashout {r['cashout_id']} of {r['handle']}"
    if r.get("replayed"):
        return f"{what}: already done (replayed, nothing changed)."
    if not r["changed"]:
        return f"{what} is already {r['after']}: nothing changed."
    back = f"; {r['diamonds_returned']:,} diamonds back to the creator" if r["diamonds_returned"] else ""
    return f"{what}: {r['before']} -> {r['after']}{back}."
