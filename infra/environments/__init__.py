"""Environments as code: release pins, smoke and promotion records, new environments, diffs,
gated promotion and the GitOps render from real stack outputs (docs/environments.md)."""
