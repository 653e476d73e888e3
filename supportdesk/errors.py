"""One error hierarchy: a stable `code` for scripts and a `message` an agent can read."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_log_dir


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


class InternalError(SupportdeskError):
    code = "internal"


def error_log() -> Path:
    return Path(user_log_dir("supportdesk", appauthor=False)) / "errors.log"


def internal_error(exc: BaseException) -> InternalError:
    """An unexpected failure as an error an agent can pass on: its kind and where its traceback was logged.

    The exception's own text is not shown: a database error quotes the statement and rows (other customers')."""
    path = error_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now(UTC).isoformat()}\n")
            log.write("".join(traceback.format_exception(exc)))
        where = f"the details are logged in {path}"
    except OSError as log_error:
        where = f"the details could not be logged ({path}: {log_error.strerror})"
    return InternalError(f"supportdesk failed unexpectedly ({type(exc).__name__}); nothing more is shown here: "
                         f"{where}. Please report it with that file.")
