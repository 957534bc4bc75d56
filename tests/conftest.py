"""Shared test settings. Tests mirror the source tree; shared helpers live in tests/support/."""
