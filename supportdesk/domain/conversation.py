"""A ticket's conversation: message kinds, what a message body may hold, macros and their placeholders.

Pure rules: the services fill `MacroFacts` from the database and call `fill`; nothing here reads or writes."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from supportdesk.domain import limits
from supportdesk.domain.text import is_hidden, shown
from supportdesk.errors import ConfigError, InvalidInput

CUSTOMER, REPLY, NOTE = "customer", "reply", "note"
KINDS = (CUSTOMER, REPLY, NOTE)
KIND_WORDS = {CUSTOMER: "customer message", REPLY: "reply", NOTE: "internal note"}
# What a reply may leave the ticket as (closed is a lead's, through `ticket status`).
REPLY_STATUSES = ("open", "pending", "on-hold", "solved")
TAB = "    "


def check_body(kind: str, body: str | None) -> str:
    """The body as it is stored: line ends as \\n, tabs as spaces, trimmed; refused when empty, too long, or
    holding a control or bidi character (nothing is written then)."""
    words = KIND_WORDS[kind]
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", TAB).strip()
    if not text:
        raise InvalidInput(f"the {words} is empty: write something")
    limit = limits.BODY if kind == CUSTOMER else limits.MESSAGE
    limits.check_text(words, text, limit)
    for number, line in enumerate(text.split("\n"), 1):
        bad = next((c for c in line if is_hidden(c)), None)
        if bad is not None:
            raise InvalidInput(f"the {words} holds the control character {shown(bad)} on line {number}; "
                               "remove it (only line breaks are kept)")
    return text


# -- macros -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Macro:
    name: str
    title: str
    body: str


_SIGN = "\n\nBest regards,\n{agent}"
DEFAULT_MACROS: dict[str, dict[str, str]] = {
    "coins-credited": {
        "title": "Coins credited after a fix",
        "body": "Hi {handle},\n\nThank you for your patience. {fix}\nYour balance is now {balance} coins." + _SIGN},
    "refund-decision": {
        "title": "The refund decision, in the customer's words",
        "body": "Hi {handle},\n\nAbout your purchase of {purchase_coins} coins on {purchase_date} "
                "({purchase_price}): {decision}" + _SIGN},
    "cashout-held": {
        "title": "A cashout is on hold for review",
        "body": "Hi {handle},\n\nYour cashout is on hold while we review recent activity on your account. We "
                "will write again as soon as the review is done; you do not need to do anything." + _SIGN},
    "goodwill": {
        "title": "Goodwill coins added",
        "body": "Hi {handle},\n\nSorry for the trouble. As a goodwill gesture we added coins to your account; "
                "your balance is now {balance} coins." + _SIGN},
}

# Every placeholder a macro may use, and what fills it.
PLACEHOLDERS: dict[str, str] = {
    "handle": "the account's handle",
    "email": "the account's email",
    "balance": "the coin balance now",
    "diamonds": "the diamond balance now",
    "ticket": "the ticket id",
    "subject": "the ticket's subject",
    "agent": "the agent replying",
    "purchase": "the purchase id (--purchase, else the one the last decision was about)",
    "purchase_coins": "the purchase's coins",
    "purchase_price": "the purchase's price, e.g. 9.99 USD",
    "purchase_date": "the purchase's date",
    "purchase_store": "the purchase's store",
    "decision": "the refund decision's sentence for the customer (the last one under the ticket)",
    "fix": "what the last reconcile fix under the ticket did, in the customer's words",
}


def macros_from_config(raw: Any) -> dict[str, Macro]:
    """The defaults, overridden and extended by `[macros.NAME]` tables (title and body); bad tables are errors."""
    tables = {**DEFAULT_MACROS}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("[macros] must be tables such as [macros.coins-credited] with title and body")
    for name, table in raw.items():
        if not isinstance(table, dict) or not isinstance(table.get("body"), str) or not table["body"].strip():
            raise ConfigError(f"[macros.{name}] needs a body (text with placeholders such as {{handle}})")
        title = table.get("title", name)
        if not isinstance(title, str):
            raise ConfigError(f"[macros.{name}] title must be text")
        tables[name] = {"title": title, "body": table["body"]}
    return {name: Macro(name, t["title"], t["body"]) for name, t in sorted(tables.items())}


def placeholders(body: str) -> list[str]:
    """The placeholder names a macro body uses, in order; `{{` and `}}` are literal braces."""
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise InvalidInput(f"the macro has an unmatched brace: {exc} (write {{{{ or }}}} for a literal brace)") \
            from None
    return [field for _, field, _, _ in parsed if field is not None]


def unknown_placeholders(body: str) -> list[str]:
    return [p for p in placeholders(body) if p not in PLACEHOLDERS]


def fill(macro: Macro, values: dict[str, str | None], missing_why: dict[str, str] | None = None) -> str:
    """The macro's body with every placeholder filled; an unknown placeholder, or one with nothing to fill it,
    is an error naming it."""
    unknown = unknown_placeholders(macro.body)
    if unknown:
        raise InvalidInput(f"the macro {macro.name!r} uses the unknown placeholder {{{unknown[0]}}}; known: "
                           f"{', '.join(sorted(PLACEHOLDERS))}")
    out: list[str] = []
    missing: dict[str, list[str]] = {}  # why -> the placeholders it leaves empty
    for literal, field, spec, conversion in string.Formatter().parse(macro.body):
        out.append(literal)
        if field is None:
            continue
        if spec or conversion:
            raise InvalidInput(f"the macro {macro.name!r} formats {{{field}}}; write the bare placeholder")
        value = values.get(field)
        if value is None:
            why = (missing_why or {}).get(field, "nothing fills it here")
            if f"{{{field}}}" not in missing.setdefault(why, []):
                missing[why].append(f"{{{field}}}")
            continue
        out.append(value)
    if missing:
        raise InvalidInput(f"the macro {macro.name!r} cannot be filled: " + "; ".join(
            f"{', '.join(names)}: {why}" for why, names in missing.items()))
    return "".join(out)


# -- the last decision, in the customer's words ----------------------------------------------------------------------
FIX_SENTENCES = {
    "missing_purchase": "We found your purchase{of} and added its {coins} coins to your account.",
    "uncredited_purchase": "We found your purchase{of} and added its {coins} coins to your account.",
    "decide_credit": "We checked your payment{of} and added its {coins} coins to your account.",
    "decide_refund_charge": "Your payment{of} did not match any of our prices, so we refunded it in full.",
    "duplicate_credit": "Your purchase{of} was credited twice by mistake, so we removed the extra {coins} coins.",
    "unapplied_refund": "The store refunded your purchase{of}, so its {coins} coins were taken back.",
    "wrong_credit_amount": "Your purchase{of} was credited with the wrong number of coins; we corrected it "
                           "({signed} coins).",
    "misdirected_credit": "The coins for your purchase{of} went to another account by mistake; we moved them to "
                          "yours.",
    "unknown_to_store": "The store has no record of a payment for{of_bare}, so the coins credited for it were "
                        "removed.",
    "balance_drift": "We corrected the coin balance shown on your account.",
}


def fix_sentence(kind: str, coins: int, purchase_id: str | None) -> str:
    """What a reconcile fix did, for the customer: `kind` is the finding (or decision) it fixed; `coins` the net
    coins it moved on the customer's account."""
    template = FIX_SENTENCES.get(kind)
    if template is None:
        template = "We corrected your account{of}."
    of = f" {purchase_id}" if purchase_id else ""
    return template.format(of=of, of_bare=of or " it", coins=f"{abs(coins):,}", signed=f"{coins:+,}")
