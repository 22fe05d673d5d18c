"""memvault: a self-hosted memory layer for AI apps and agents."""
