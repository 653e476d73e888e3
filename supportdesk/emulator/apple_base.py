"""What the App Store Server API endpoints share: Apple's error shape, paging and request checks.

Error codes follow Apple's library (``appstoreserverlibrary.api_client.APIError``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypeGuard

from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.faults import Fault
from supportdesk.emulator.routing import decode_page_token, json_response, malformed_response

PAGE_SIZE = 20
ENVIRONMENTS = ("Production", "Sandbox")
# How far back Get Notification History reaches: 180 days in Production, 30 in Sandbox
# (NotificationHistoryRequest, developer.apple.com/documentation/appstoreserverapi/notificationhistoryrequest).
NOTIFICATION_WINDOW_DAYS = {"Production": 180, "Sandbox": 30}


class AppleError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return json_response({"errorCode": self.code, "errorMessage": self.message}, self.status)


def error_response(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"errorCode": code, "errorMessage": message}, status, headers)


def rate_limited(retry_at_ms: int) -> Response:
    return error_response(429, 4290000, "Rate limit exceeded.", {"Retry-After": str(retry_at_ms)})


def unauthorized() -> Response:
    # Apple answers a bad token with a plain-text 401, not the JSON error shape.
    return Response(
        f"Unauthenticated\n\nRequest ID: {uuid.uuid4().hex[:26].upper()}.0.0", 401, media_type="text/plain"
    )


def on_fault(fault: Fault) -> Response | None:
    if fault.kind == "429":  # Retry-After: epoch milliseconds, as Apple sends it (see ratelimit.py)
        return rate_limited(int(time.time() * 1000) + (fault.arg or 0) * 1000)
    if fault.kind == "500":
        return error_response(500, 5000000, "An unknown error occurred.")
    if fault.kind == "503":
        return error_response(503, 5000001, "An unknown error occurred. Please try again.")
    if fault.kind == "malformed":
        return malformed_response()
    if fault.kind == "expired_token":
        return unauthorized()
    return None  # bad_signature: the handler signs with a broken signature


def page_of(rows: list[Any], token: str | None, code: int, name: str) -> tuple[list[Any], int, bool]:
    offset = 0
    if token:
        position = decode_page_token(token, "o")
        if position is None or position["o"] < 0:
            raise AppleError(400, code, f"Invalid request. The {name} is invalid.")
        offset = position["o"]
    page = rows[offset : offset + PAGE_SIZE]
    next_offset = offset + len(page)
    return page, next_offset, next_offset < len(rows)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AppleError(400, 4000000, "Invalid request. The request body is not a JSON object.")
    return body
