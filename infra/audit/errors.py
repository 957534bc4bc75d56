"""Why an audit could not run: credentials, permissions, a missing library."""

from __future__ import annotations


class AuditError(RuntimeError):
    """The audit could not look at the account; the message says what is missing."""
