"""The cost governor's policy: pure functions shared by the in-cluster controller
(serving/governor/) and `gpt-oss-platform cost simulate`.

- `model`: what one hour at a given floor costs (GPU node-hours, API tokens, cold starts), built
  from the same sizing, throughput figure and API price as `cost compare` (infra/cost/compare.py);
- `trace`: hourly traffic (tokens, sovereign tokens), from a CSV or from the gateway's metrics;
- `forecast`: the next hours from the history (hour-of-week, else hour-of-day profile, scaled
  to the recent level);
- `plan`: the cheapest sequence of floors over hours (dynamic programming, cold starts included):
  the hindsight optimum on actual traffic, the governor's plan on the forecast;
- `policy`: one decision (the floor now) with guardrails, mode and dollar effect;
- `simulate`: a trace replayed through `policy`, against always-on, API-only and hindsight.

Nothing here imports Pulumi or a Kubernetes client; the controller imports this, never the reverse.
"""
