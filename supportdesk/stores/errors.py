"""Typed store errors: a stable `code` per failure kind, a message naming the store and what happened."""

from __future__ import annotations

from typing import Any

from supportdesk.errors import SupportdeskError

STORE_NAMES = {"apple": "the App Store", "google": "Google Play", "web": "the web payment processor"}


def store_name(store: str) -> str:
    return STORE_NAMES.get(store, store)


def store_title(store: str) -> str:
    """The store's name to start a sentence with (str.capitalize would lower-case "Play")."""
    name = store_name(store)
    return name[:1].upper() + name[1:]


class StoreError(SupportdeskError):
    code = "store_error"

    def __init__(self, store: str, message: str, *, retries: int = 0, status: int | None = None,
                 store_code: Any = None) -> None:
        details = {"store": store, "retries": retries}
        if status is not None:
            details["status"] = status
        if store_code is not None:
            details["store_code"] = store_code
        super().__init__(message, details=details)
        self.store = store
        self.retries = retries
        self.status = status
        self.store_code = store_code


class StoreUnavailable(StoreError):
    code = "store_unavailable"


class StoreTimeout(StoreError):
    code = "store_timeout"


class StoreRateLimited(StoreError):
    code = "store_rate_limited"


class StoreAuthFailed(StoreError):
    code = "store_auth_failed"


class StoreNotFound(StoreError):
    code = "store_not_found"


class StoreBadResponse(StoreError):
    code = "store_bad_response"


class StoreBadSignature(StoreError):
    code = "store_bad_signature"


class StoreRejected(StoreError):
    code = "store_rejected"
