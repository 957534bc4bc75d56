"""Gateway routes and upstreams for every served model and adapter (docs/models.md, "Routing").

One route per public name: the default model, each additional model, each adapter
(`<model>:<adapter>`, the id Ray Serve LLM expects). Every self-hosted name gets its own upstream
(same Serve endpoint, its own `model`), so metrics, circuit breaking and cost are per model and
per adapter. A route falls back only where the config names a managed model for it: the default
model keeps the `fallback` section; an additional model or an adapter has none unless its own
`fallback` names one, since a managed model is not the fine-tune. The answer then carries the
managed model's name (the gateway answers with the requested name only when a self-hosted
upstream served it).

Cost: a model's replicas cost what their nodes cost (infra/sizing.py, node-true); the model and
its adapters share those replicas, so each of their upstreams amortises an equal share of that
fleet price, and their shares add up to it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from contracts import GATEWAY_MANAGED_API_KEY_FILE, UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.catalog import load_catalog
from infra.models.served import ServedModel, resolve_served_models

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig

MAX_UPSTREAM_NAME = 63


def upstream_name(model: str) -> str:
    """A gateway upstream name (`^[a-z][a-z0-9-]{0,62}$`) for a self-hosted model id."""
    slug = "".join(c if c.isalnum() else "-" for c in model.lower()).strip("-")
    return f"{UPSTREAM_SELF_HOSTED}-{slug}"[:MAX_UPSTREAM_NAME].rstrip("-")


def _managed(settings: dict[str, Any], env: EnvironmentConfig, model: str) -> str:
    """The managed upstream serving `model`, added to `settings` when it is not there yet."""
    for upstream in settings["upstreams"]:
        if upstream["adapter"] == "managed_openai" and upstream["model"] == model:
            return upstream["name"]
    price = load_catalog().managed_api[model]
    template = next((u for u in settings["upstreams"] if u["name"] == UPSTREAM_MANAGED), None)
    name = f"{UPSTREAM_MANAGED}-{model.replace('.', '-')}"
    upstream = (
        copy.deepcopy(template)
        if template
        else {
            "adapter": "managed_openai",
            "base_url": env.fallback.base_url,
            "api_key_file": GATEWAY_MANAGED_API_KEY_FILE,
            "readiness": {"probe": "none"},
        }
    )
    upstream.update(
        name=name,
        model=model,
        cost={"kind": "token_price", "input_usd_per_mtok": price.input_per_mtok, "output_usd_per_mtok": price.output_per_mtok},
    )
    settings["upstreams"].append(upstream)
    return name


def _self_hosted(template: dict[str, Any], name: str, model_id: str, fleet_usd_per_hour: float, probe: bool) -> dict[str, Any]:
    upstream = copy.deepcopy(template)
    upstream.update(name=name, model=model_id)
    upstream["cost"] = {**upstream["cost"], "fleet_usd_per_hour": round(fleet_usd_per_hour, 6)}
    if not probe:
        # An adapter runs on its model's replicas: the model's own upstream probes them; a probe
        # per adapter would only make every replica load every adapter.
        upstream["readiness"] = {"probe": "none"}
    return upstream


def add_served_routes(
    settings: dict[str, Any], env: EnvironmentConfig, idle_after_s: float, wake_timeout_s: float
) -> dict[str, Any]:
    """`settings` (infra/gateway_settings.py) with a route and an upstream per served name;
    `idle_after_s`: when a model that may scale to zero stops being probed; `wake_timeout_s`: how
    long the one request that wakes it from zero stays open."""
    if env.served_models.lora is None and not env.served_models.additional:
        return settings
    models: list[ServedModel] = resolve_served_models(env)
    template = next(u for u in settings["upstreams"] if u["name"] == UPSTREAM_SELF_HOSTED)
    for model in models:
        names = model.adapter_models
        share = model.usd_per_hour(max(1, model.min_replicas)) / (1 + len(names))
        if model.default:
            template["cost"]["fleet_usd_per_hour"] = round(share, 6)
        else:
            upstream = _self_hosted(template, upstream_name(model.name), model.name, share, probe=True)
            # Probing keeps a replica busy: a model that may scale to zero stops being probed when idle.
            to_zero = model.min_replicas == 0
            upstream["readiness"] = {
                **upstream["readiness"],
                "idle_after_s": idle_after_s if to_zero else None,
                "wake_timeout_s": wake_timeout_s if to_zero else None,
            }
            settings["upstreams"].append(upstream)
            fallback = _managed(settings, env, model.fallback) if model.fallback else None
            settings["routes"].append({"model": model.name, "primary": upstream["name"], "fallback": fallback})
        for adapter, adapter_id in zip(model.lora.adapters if model.lora else [], names, strict=True):
            upstream = _self_hosted(template, upstream_name(adapter_id), adapter_id, share, probe=False)
            settings["upstreams"].append(upstream)
            fallback = _managed(settings, env, adapter.fallback) if adapter.fallback else None
            settings["routes"].append({"model": adapter_id, "primary": upstream["name"], "fallback": fallback})
    return settings
