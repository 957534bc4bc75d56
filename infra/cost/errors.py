"""Bad input to the cost model: one message naming the field, the bad value and the fix."""

from __future__ import annotations


class CostInputError(ValueError):
    """An input the cost model cannot use (a flag, an override file, a metrics snapshot)."""
