"""Identifiers shaped like each system's own, drawn from the seeded generator and never repeated."""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

BASE36 = string.digits + string.ascii_lowercase
ALNUM = string.digits + string.ascii_letters
TOKEN = ALNUM + "-_"


@dataclass
class IdMaker:
    rng: Random
    _seen: set[str] = field(default_factory=set)
    _ticket: int = 1000

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value

    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def prefixed(self, prefix: str, n: int, alphabet: str = BASE36) -> str:
        return self._unique(lambda: prefix + self._chars(alphabet, n))

    def account(self) -> str:
        return self.prefixed("acc_", 10)

    def purchase(self) -> str:
        return self.prefixed("pur_", 12)

    def entry(self) -> str:
        return self.prefixed("le_", 14)

    def gift_event(self) -> str:
        return self.prefixed("ge_", 12)

    def cashout(self) -> str:
        return self.prefixed("co_", 12)

    def ticket(self) -> str:
        self._ticket += 1
        return f"T-{self._ticket}"

    def apple_transaction(self) -> str:
        return self.prefixed("2000000", 9, string.digits)

    def google_order(self) -> str:
        d = string.digits
        return self._unique(
            lambda: f"GPA.{self._chars(d, 4)}-{self._chars(d, 4)}-{self._chars(d, 4)}-{self._chars(d, 5)}"
        )

    def google_token(self) -> str:
        # Real purchase tokens are opaque, long and dotted; the shape matters only for display.
        return self._unique(lambda: f"{self._chars(string.ascii_lowercase, 24)}.AO-J1O{self._chars(TOKEN, 80)}")

    def charge(self) -> str:
        return self.prefixed("ch_", 24, ALNUM)

    def refund(self) -> str:
        return self.prefixed("re_", 24, ALNUM)

    def dispute(self) -> str:
        return self.prefixed("dp_", 24, ALNUM)

    def customer(self) -> str:
        return self.prefixed("cus_", 14, ALNUM)

    def fingerprint(self) -> str:
        return self._chars(ALNUM, 16)

    def app_account_token(self) -> str:
        return self._unique(lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))
