"""Served models beyond the environment's default one: fine-tuned checkpoints (their manifest and
checksums), sizing from a checkpoint's real `config.json` and LoRA adapter memory, staging a local
fine-tune into the environment's bucket. Pure functions (boto3 only in `stage`); docs/models.md."""
