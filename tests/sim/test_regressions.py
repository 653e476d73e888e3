"""Failing simulation runs, kept as the shortest steps that replay them (issue 11).

A replay of an open bug is xfail(strict=True) until its fix is merged (then the marker comes off); those of
items 1 to 5 all pass now. The invariants are never weakened for them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS
from tests.sim.machine import Simulation

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture
def sim(backend: str, pg_template: str | None) -> Iterator[Simulation]:
    machine = type("Replay", (Simulation,), {"backend": backend, "pg_template": pg_template, "HOSTILE": True})()
    machine.catalog()
    machine.import_account(bought=[], drift=0)
    machine.holds()
    yield machine
    machine.teardown()


def test_dangling_credit_then_the_store_record_is_credited_once(sim: Simulation) -> None:
    """Issue 11 item 1 (fixed by the import checks: the import is refused, the charge is then credited once)."""
    sim.import_hostile(kind="dangling", product=("google", "coins_350"), days=1)
    sim.holds()
    sim.sync(store=None)
    sim.fix_findings(lead=True, interleave=False)
    sim.holds()


@pytest.mark.parametrize("price", [1, 0, -499, 5000])
def test_a_mispriced_charge_is_never_auto_credited(sim: Simulation, price: int) -> None:
    sim.new_charge(sim.accounts[0], ("web", "coins_700"), 2, price=price)
    sim.sync(store=None)
    sim.fix_findings(lead=True, interleave=False)
    sim.holds()


def test_a_fix_applies_only_what_was_confirmed(sim: Simulation) -> None:
    sim.fix_findings(lead=True, interleave=True)  # a new charge arrives between the confirmation and the fix
    sim.holds()


def test_an_over_credit_is_refused_at_import(sim: Simulation) -> None:
    sim.import_hostile(kind="over_credit", product=("google", "coins_350"), days=1)
    sim.holds()


def test_a_misdirected_credit_is_refused_at_import(sim: Simulation) -> None:
    sim.import_hostile(kind="misdirected", product=("web", "coins_350"), days=1)
    sim.holds()


def test_a_recurring_drift_is_fixed_again(sim: Simulation) -> None:
    """Issue 11 item 5: the same drift (same cached and ledger numbers) after new ledger entries is a new fix."""
    account = sim.accounts[0]
    for _ in range(2):
        sim.recur_drift(account)
        sim.fix_findings(lead=False, interleave=False)
        sim.holds()


def test_the_replays_reach_their_checks(sim: Simulation) -> None:
    """The replays above fail on an invariant, not on the harness: the honest versions of their steps pass."""
    sim.new_charge(sim.accounts[0], ("web", "coins_700"), 2)
    sim.move_cached(sim.accounts[0], 40)
    sim.sync(store=None)
    sim.fix_findings(lead=True, interleave=False)
    sim.holds()
    assert sim.expect.checks["charge_credit"] and sim.expect.drift == {}
