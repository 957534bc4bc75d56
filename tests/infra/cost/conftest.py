"""The gateway fixtures of tests/serving (fake upstreams and a gateway on 127.0.0.1 free ports,
stopped at teardown), for recording a metrics snapshot from a real gateway run."""

from tests.serving.conftest import managed, primary, secrets, start_gateway  # noqa: F401
