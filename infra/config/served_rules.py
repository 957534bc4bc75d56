"""Rules that join `served_models` with the rest of the config: unique public names, the pool
each model runs on, the checkpoint's manifest and real size, adapter memory, and the pool's room
for every model's replicas together (docs/models.md).

One RayService serves every model (docs/decisions.md, "Several models: one RayService"): its
worker group is sized for the default model, so a further model must run on the same pool at the
same tensor-parallel degree (one worker pod hosts one replica of any model).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from infra.config.errors import Problem, problem
from infra.models.served import ServedModel, ServedModelError, resolve_additional, resolve_default
from infra.paths import REPO_ROOT

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig


def served_model_problems(env: EnvironmentConfig, root: Path = REPO_ROOT) -> list[Problem]:
    if env.served_models.lora is None and not env.served_models.additional:
        return []
    found: list[Problem] = []
    default: ServedModel | None = None
    try:
        default = resolve_default(env)
    except ServedModelError as error:
        found.append(problem(error.path, error.message))
    except KeyError:
        return found  # no serving pool: rules.serving_pool reports it
    models: list[ServedModel] = [default] if default else []
    for index, entry in enumerate(env.served_models.additional):
        try:
            models.append(resolve_additional(env, index, entry, root))
        except ServedModelError as error:
            found.append(problem(error.path, error.message))
    seen: dict[str, str] = {}
    names = [(env.model.name, "model.name")]
    if env.served_models.lora:
        names += [
            (f"{env.model.name}:{a.name}", f"served_models.lora.adapters[{i}].name")
            for i, a in enumerate(env.served_models.lora.adapters)
        ]
    for index, entry in enumerate(env.served_models.additional):
        names.append((entry.name, f"served_models.additional[{index}].name"))
        if entry.lora:
            names += [
                (f"{entry.name}:{a.name}", f"served_models.additional[{index}].lora.adapters[{j}].name")
                for j, a in enumerate(entry.lora.adapters)
            ]
    for name, path in names:
        if name in seen:
            found.append(problem(path, f"public model name {name!r} is already used by {seen[name]}", name))
        seen.setdefault(name, path)
    if default is None:
        return found
    for model in models[1:]:
        if model.pool.name != default.pool.name:
            found.append(
                problem(
                    f"{model.path}.node_pool",
                    f"the RayService's worker group runs on the default model's pool {default.pool.name!r}; a model on "
                    f"another pool needs its own worker group, which this toolkit does not render yet: use "
                    f"{default.pool.name!r}",
                    model.pool.name,
                )
            )
        elif model.sizing.tensor_parallel != default.sizing.tensor_parallel:
            found.append(
                problem(
                    f"{model.path}.tensor_parallel",
                    f"{model.name} needs TP={model.sizing.tensor_parallel} but the worker pods of pool "
                    f"{default.pool.name!r} hold TP={default.sizing.tensor_parallel} GPUs (sized for {default.name}); "
                    "one worker pod hosts one replica: serve it at the same TP or in another environment",
                    model.sizing.tensor_parallel,
                )
            )
    capacity = default.pool.max_nodes * default.sizing.replicas_per_node
    wanted = sum(m.max_replicas for m in models if m.pool.name == default.pool.name)
    if wanted > capacity:
        listed = " + ".join(f"{m.max_replicas} ({m.name})" for m in models)
        found.append(
            problem(
                f"node_pools[{env.node_pools.index(default.pool)}].max_nodes",
                f"the served models' max_replicas add up to {listed} = {wanted}, but pool {default.pool.name!r} holds "
                f"{capacity} ({default.pool.max_nodes} nodes x {default.sizing.replicas_per_node}); raise max_nodes "
                "or lower max_replicas",
                default.pool.max_nodes,
            )
        )
    return found
