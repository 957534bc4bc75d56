"""Pulumi ComponentResources, one per concern. Type tokens: `gptoss:<module>:<Type>`."""
