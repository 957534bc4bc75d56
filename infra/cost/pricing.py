"""Small shared arithmetic of the cost figures: rounding and node-months."""

from __future__ import annotations


def money(value: float) -> float:
    """USD rounded to cents, the precision every reported figure carries."""
    return round(value, 2)


def node_months_usd(nodes: int, usd_per_node_hour: float, hours_per_month: float) -> float:
    """What `nodes` nodes cost when they run the whole month."""
    return money(nodes * usd_per_node_hour * hours_per_month)
