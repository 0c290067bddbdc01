"""Deploy and rollback: the production lock, the deploy history, and the runbook actions."""
