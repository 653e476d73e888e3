"""desk.refunds with injected fake store clients and the desk's clock: decide, apply once, replay, in words."""

from __future__ import annotations

from supportdesk.config import Settings
from supportdesk.desk import Desk
from supportdesk.desk.context import AppContext
from tests.service.test_refunds import CTX, NOW, FakeWeb, world  # noqa: F401  (world: the fixture)


def test_the_desk_decides_applies_once_with_its_clients_and_clock_and_replays(world) -> None:  # noqa: F811
    state = AppContext(_settings=Settings(database_url=str(world.url), actor="agent-1"))
    state.engine = world  # type: ignore[misc]  # share the test's engine (cached_property slot)
    web = FakeWeb()
    desk = Desk.open(state, clients={"web": web})
    desk.clock = NOW  # the stores' clock, read once per desk (as the emulator's --now would set it)
    refunds = desk.refunds

    check = refunds.check("ch_web350", applying=True)
    assert check.now == NOW and check.first is None and not check.denied
    assert check.to_json()["decision"]["outcome"] == "refund"
    question, lines = refunds.words(check.view, "asked", "T-1")
    assert question.startswith("Refund 4.56 USD to the card of") and question.endswith("reason 'asked', ticket T-1?")
    assert lines[0].startswith("coins: 350 credited")

    done = refunds.apply("pur_web", CTX)
    assert done["replayed"] is False and [c["charge"] for c in web.calls] == ["ch_web350"]
    again = refunds.check("pur_web", applying=True)
    assert again.first is not None and again.to_json()["applied"]["replayed"] is True
    assert refunds.decision("pur_web")["decision"]["outcome"] == "deny" and len(web.calls) == 1
