"""The policy in force: refund windows, review thresholds and role limits as versioned rows in the database.

Agents cannot change it (on PostgreSQL only the owner may insert a version); each change is audited, and every
audit record names the version its action applied. The defaults in code are version 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from supportdesk.config import DEFAULT_POLICY, merge_policy
from supportdesk.db.models import PolicyVersion
from supportdesk.errors import InvalidInput
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext


def in_force(session: Session) -> tuple[int | None, dict[str, Any]]:
    """(version, policy): the newest version over the defaults; (None, defaults) when none was ever set."""
    row = session.exec(select(PolicyVersion).order_by(col(PolicyVersion.version).desc()).limit(1)).first()
    if row is None:
        return None, merge_policy(DEFAULT_POLICY, {})
    return row.version, merge_policy(DEFAULT_POLICY, row.policy)


def _parse(key: str, raw: str) -> tuple[str, str, Any]:
    section, _, name = key.partition(".")
    if section not in DEFAULT_POLICY or name not in DEFAULT_POLICY[section]:
        known = ", ".join(f"{s}.{n}" for s, names in DEFAULT_POLICY.items() for n in names)
        raise InvalidInput(f"no policy setting {key!r}; the settings are: {known}")
    default = DEFAULT_POLICY[section][name]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(default, int) and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise InvalidInput(f"{key} must be a whole number of 0 or more, not {raw!r}")
    if isinstance(default, list) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise InvalidInput(f'{key} must be a JSON list of names, e.g. \'["fraud", "chargeback"]\', not {raw!r}')
    return section, name, value


def set_value(session: Session, key: str, raw: str, ctx: ActionContext) -> dict[str, Any]:
    """A new version with one setting changed, audited as `policy.set`."""
    audit_ctx = ctx
    section, name, value = _parse(key, raw)
    if not ctx.reason.strip():
        raise InvalidInput("a reason is required to change the policy")
    version, policy = in_force(session)
    before = policy[section][name]
    stored = session.exec(select(PolicyVersion).order_by(col(PolicyVersion.version).desc()).limit(1)).first()
    changed = merge_policy(stored.policy if stored else {}, {section: {name: value}})
    new = PolicyVersion(version=(version or 0) + 1, policy=changed, set_by=ctx.actor, set_at=datetime.now(UTC),
                        reason=ctx.reason)
    session.add(new)
    session.flush()
    audit.append(session, ActionContext(audit_ctx.actor, audit_ctx.reason, audit_ctx.ticket_id, audit_ctx.role,
                                        policy_version=new.version),
                 action="policy.set", target=key, before={key: before, "version": version or 0},
                 after={key: value, "version": new.version})
    return {"version": new.version, "key": key, "before": before, "after": value}
