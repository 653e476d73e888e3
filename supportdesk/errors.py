"""One error hierarchy: a stable `code` for scripts and a `message` an agent can read."""

from __future__ import annotations

from typing import Any


class SupportdeskError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(SupportdeskError):
    code = "invalid_input"


class NotFound(SupportdeskError):
    code = "not_found"


class Conflict(SupportdeskError):
    code = "conflict"


class Ambiguous(Conflict):
    """A query names more than one account (or thing) where an action needs exactly one."""

    code = "ambiguous"


class Forbidden(SupportdeskError):
    code = "forbidden"


class DatabaseUnavailable(SupportdeskError):
    code = "database_unavailable"


class SchemaOutOfDate(SupportdeskError):
    code = "schema_out_of_date"


class ConfigError(SupportdeskError):
    code = "config_error"


class ImportFailed(SupportdeskError):
    code = "import_failed"
