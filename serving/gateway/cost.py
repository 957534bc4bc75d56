"""What one request cost, in USD, for either kind of upstream.

Managed: list price per token (`TokenPrice`): prompt x input price + completion x output price;
reasoning tokens are part of `completion_tokens` and bill as output. Cached-prompt discounts
are ignored, so the figure is an upper bound.

Self-hosted (`AmortisedFleetCost`): the GPUs cost the same per hour whether they serve or idle,
so a request's cost is its share of the fleet's hourly price over the tokens actually served:

    weighted(r)        = input_token_weight x prompt_tokens(r) + completion_tokens(r)
    rate               = max(weighted tokens this pod served in the trailing window, scaled to
                             one hour, min_weighted_tokens_per_hour)
    usd_per_weighted   = (fleet_usd_per_hour / gateway_pods) / rate
    cost(r)            = weighted(r) x usd_per_weighted

Every term is positive, so the figure never reads $0. Quiet hours make tokens dear, busy
hours cheap: exactly what amortising a fixed cost means. docs/gateway.md explains the choice of
each term and how to get the exact fleet-wide ledger in PromQL.
"""

from __future__ import annotations

from serving.gateway.settings import AmortisedFleetCost, TokenPrice

BUCKETS = 15
MIN_SPAN_S = 60.0


class TokenPriceModel:
    def __init__(self, price: TokenPrice) -> None:
        self._input = price.input_usd_per_mtok / 1e6
        self._output = price.output_usd_per_mtok / 1e6

    def cost(self, prompt_tokens: int, completion_tokens: int, now: float) -> float:
        return prompt_tokens * self._input + completion_tokens * self._output

    def usd_per_mtok(self, now: float) -> float:
        """Output-token price, for the gauge that shows what a token costs right now."""
        return self._output * 1e6


class AmortisedFleetModel:
    def __init__(self, settings: AmortisedFleetCost, now: float) -> None:
        self._share_usd_per_hour = settings.fleet_usd_per_hour / settings.gateway_pods
        self._input_weight = settings.input_token_weight
        self._floor = settings.min_weighted_tokens_per_hour
        self._window_s = settings.window_s
        self._bucket_s = settings.window_s / BUCKETS
        self._tokens = [0.0] * BUCKETS
        self._epochs = [-1] * BUCKETS
        self._started = now

    def cost(self, prompt_tokens: int, completion_tokens: int, now: float) -> float:
        weighted = self._input_weight * prompt_tokens + completion_tokens
        self._add(weighted, now)
        return weighted * self._usd_per_weighted_token(now)

    def usd_per_mtok(self, now: float) -> float:
        return self._usd_per_weighted_token(now) * 1e6

    def _usd_per_weighted_token(self, now: float) -> float:
        span = min(self._window_s, max(MIN_SPAN_S, now - self._started))
        per_hour = max(self._served(now) * 3600.0 / span, self._floor)
        return self._share_usd_per_hour / per_hour

    def _add(self, weighted: float, now: float) -> None:
        epoch = int(now / self._bucket_s)
        i = epoch % BUCKETS
        if self._epochs[i] != epoch:
            self._epochs[i] = epoch
            self._tokens[i] = 0.0
        self._tokens[i] += weighted

    def _served(self, now: float) -> float:
        oldest = int(now / self._bucket_s) - BUCKETS + 1
        return sum(t for t, e in zip(self._tokens, self._epochs, strict=True) if e >= oldest)


CostModel = TokenPriceModel | AmortisedFleetModel


def cost_model(settings: TokenPrice | AmortisedFleetCost, now: float) -> CostModel:
    if isinstance(settings, TokenPrice):
        return TokenPriceModel(settings)
    return AmortisedFleetModel(settings, now)
