"""The offline plan: the real Pulumi program under Pulumi's mock engine, no CLI, no cloud."""
