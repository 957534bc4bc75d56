"""Generated documentation: the configuration reference, the contracts page, the sizing table and
the latest measured results, each produced by code so the docs cannot drift from it."""
