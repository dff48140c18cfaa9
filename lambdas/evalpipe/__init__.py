"""Domain logic of the Bedrock evaluation pipeline (no AWS clients are created at import)."""
