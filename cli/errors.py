"""Errors every subcommand reports the same way: one message, no traceback, a fixed exit code."""

from __future__ import annotations

OK = 0
CHECK_FAILED = 1
BAD_INPUT = 2


class CliError(Exception):
    """Bad input the user can fix: printed as `error: <message>`, exit code 2 unless told otherwise."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
