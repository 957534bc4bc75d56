"""The cost question: self-hosted GPUs against the managed API, from the catalog's prices.

- `throughput`: output tokens/s per replica for a model x GPU x tensor-parallel size, each
  figure labelled published / estimated / measured with its source and date.
- `prices`: the catalog's prices, optionally overridden from a file, with their dates.
- `profile`: a traffic profile (tokens per month, input:output ratio, reasoning share, busy hours).
- `capacity`: replicas -> nodes -> node-hours for a profile, capped by the pool (overflow and
  cold periods go to the API).
- `compare`: self-hosted, API and hybrid monthly cost, the break-even volume, a recommendation.
- `chart`: the PNG of monthly cost against monthly tokens (matplotlib, `ops` group).
- `metrics` / `report`: what the gateway's counters say each team's traffic actually cost.

Pure functions over typed inputs; nothing here calls a cloud API.
"""
