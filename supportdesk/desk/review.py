"""The suspicious-charge review queue: rebuild it (run the rules), page it, a flag's evidence, decide a flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.services.audit import ActionContext
    from supportdesk.services.review import BuildResult

Row = dict[str, Any]


@dataclass(frozen=True)
class Queue:
    """The queue listed whole, highest score first (`review` on the command line), and the rebuild before it."""

    flags: list[Row]
    built: BuildResult | None  # what the rebuild did (the service's own result, with its to_json)

    def to_json(self) -> Row:
        return {"flags": self.flags, "built": self.built.to_json() if self.built else None}


@dataclass(frozen=True)
class Page:
    """One keyset page of the stored queue (flags without evidence); `counts` (flags by rule) on the first."""

    flags: list[Row]
    counts: dict[str, int] | None

    def to_json(self) -> Row:
        return {"flags": self.flags, "counts": self.counts}


@dataclass(frozen=True)
class Decision:
    """The flag after the decision, and what was `applied` (`replayed`, `account_status`, `held_cashouts`)."""

    flag: Row
    applied: Row

    def to_json(self) -> Row:
        return {"flag": self.flag, "applied": self.applied}


def statuses(decided: bool) -> tuple[str, ...]:
    """The flag statuses shown: open ones, or (`decided`) every one."""
    from supportdesk.services.review import DECIDED

    return ("open", "cleared", *DECIDED) if decided else ("open",)


class ReviewDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def rebuild(self, rule: str | None = None) -> BuildResult:
        """Run the rules (only `rule`'s when given) and refresh the queue; decided flags stay decided. The rules
        read in one read transaction, the changes are written in short chunks, so other agents hardly wait."""
        from supportdesk.services import review

        return review.rebuild(self.desk.engine, self.desk.settings.policy.get("review"), [rule] if rule else None)

    def queue(self, rule: str | None = None, *, decided: bool = False, rebuild: bool = True) -> Queue:
        """The whole queue by score (after a rebuild unless `rebuild` is False)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import review

        built = self.rebuild(rule) if rebuild else None
        with read_session(self.desk.engine) as session:
            return Queue(review.queue(session, rule, statuses(decided)), built)

    def page(self, rule: str | None = None, *, decided: bool = False, after: tuple[int, str] | None = None,
             ascending: bool = False, limit: int = 100) -> Page:
        """One keyset page after `after` (score, flag id), evidence left out; nothing is rebuilt."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import review

        shown = statuses(decided)
        with read_session(self.desk.engine) as session:
            flags = review.page(session, rule, shown, after=after, limit=limit, ascending=ascending)
            return Page(flags, review.counts(session, shown) if after is None else None)

    def flag(self, flag_id: str) -> Row:
        """One flag with its evidence; raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import review

        with read_session(self.desk.engine) as session:
            return review.get_flag(session, flag_id)

    def describe(self, flag: Row, action: str) -> str:
        """What deciding `flag` with `action` does, in words (the confirmation's start)."""
        from supportdesk.domain.review import describe

        return describe(flag, action)

    def check(self, action: str, reason: str | None) -> None:
        """A known action and a reason, before anything is read: raises InvalidInput."""
        from supportdesk.domain.review import ACTIONS
        from supportdesk.errors import InvalidInput

        if action not in ACTIONS:
            raise InvalidInput(f"--action must be one of {', '.join(ACTIONS)}, not {action!r}")
        if not (reason and reason.strip()):
            raise InvalidInput("--reason TEXT is required: every review decision is audited with its reason")

    def act(self, flag_id: str, action: str, who: ActionContext, *, key: str | None = None) -> Decision:
        """Decide a flag once (dismiss, confirm, limit or suspend the account); the flag afterwards."""
        from supportdesk.db.engine import write_session
        from supportdesk.desk.goodwill import caller_key
        from supportdesk.services import review

        key = caller_key(key)
        with write_session(self.desk.engine) as session:
            applied = review.act(session, flag_id, action, who, key=key)
        return Decision(self.flag(flag_id), applied)
