"""Policies every preview must pass: cost tags everywhere, private encrypted buckets, no plain-text secrets."""
