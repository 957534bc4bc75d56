"""Typed environment configuration: models, cross-section rules, loading and errors."""

from infra.config.errors import ConfigError, Problem
from infra.config.load import (
    ENVIRONMENT_KEY,
    MANAGED_API_KEY,
    PROJECT,
    environment_from_stack_file,
    read_stack_file,
    stack_names,
    validate_environment,
)
from infra.config.models import EnvironmentConfig, NodePoolConfig

__all__ = [
    "ENVIRONMENT_KEY",
    "MANAGED_API_KEY",
    "PROJECT",
    "ConfigError",
    "EnvironmentConfig",
    "NodePoolConfig",
    "Problem",
    "environment_from_stack_file",
    "read_stack_file",
    "stack_names",
    "validate_environment",
]
