"""Change an environment's release pins and re-render its stack file in one step, so the pins
and what `pulumi up` deploys never disagree (the model revision flows into Pulumi.<env>.yaml)."""

from __future__ import annotations

from pathlib import Path

from infra.config.errors import ConfigError, problem
from infra.config.stack_files import render_stack_file
from infra.environments.checkout import synced_with_checkout
from infra.environments.pins import DIGEST_RE, REVISION_RE, ImagePin, ReleasePins, load_pins, write_pins


def updated_pins(
    pins: ReleasePins,
    models: dict[str, str] | None = None,
    gateway_digest: str | None = None,
    gateway_repository: str | None = None,
    gateway_tag: str | None = None,
    ray_digest: str | None = None,
    governor_digest: str | None = None,
    governor_repository: str | None = None,
    governor_tag: str | None = None,
) -> ReleasePins:
    """`pins` with the given values replaced; ConfigError naming each bad value."""
    found = []
    for name, revision in (models or {}).items():
        if not REVISION_RE.match(revision):
            found.append(problem(f"--model {name}", "revision must be a 40-hex Hugging Face commit", revision))
    if gateway_digest is not None and not DIGEST_RE.match(gateway_digest):
        found.append(problem("--gateway-digest", "must be sha256:<64 lower-case hex digits>", gateway_digest))
    if governor_digest is not None and not DIGEST_RE.match(governor_digest):
        found.append(problem("--governor-digest", "must be sha256:<64 lower-case hex digits>", governor_digest))
    if ray_digest is not None and not DIGEST_RE.match(ray_digest):
        found.append(problem("--ray-digest", "must be sha256:<64 lower-case hex digits> (`crane digest` of the tag)", ray_digest))
    if found:
        raise ConfigError(found, "pins set")
    gateway = _image(pins.gateway_image, gateway_repository, gateway_tag, gateway_digest)
    governor = _image(pins.governor_image, governor_repository, governor_tag, governor_digest)
    # The Ray image's repository and tag are the checkout's (`pins sync`); only its digest is set here.
    ray = pins.ray_image if ray_digest is None else pins.ray_image.model_copy(update={"digest": ray_digest})
    return pins.model_copy(
        update={
            "models": {**pins.models, **(models or {})},
            "gateway_image": gateway,
            "governor_image": governor,
            "ray_image": ray,
        }
    )


def _image(pin: ImagePin, repository: str | None, tag: str | None, digest: str | None) -> ImagePin:
    new_image = repository is not None or tag is not None
    return ImagePin(
        repository=repository or pin.repository,
        tag=tag or pin.tag,
        # A digest belongs to one image: a new repository or tag without a digest clears it.
        digest=digest if digest is not None else (None if new_image else pin.digest),
    )


def apply_pins(env: str, pins: ReleasePins, root: Path) -> list[Path]:
    """Write `pins` for `env` and re-render its stack file; the files written."""
    written = [write_pins(env, pins, root)]
    path, _ = render_stack_file(env, root)
    return [*written, path]


def set_pins(env: str, root: Path, **changes: object) -> tuple[ReleasePins, list[Path]]:
    pins = updated_pins(load_pins(env, root), **changes)  # type: ignore[arg-type]
    return pins, apply_pins(env, pins, root)


def sync_pins(env: str, root: Path) -> tuple[ReleasePins, list[Path]]:
    pins = synced_with_checkout(load_pins(env, root))
    return pins, apply_pins(env, pins, root)
