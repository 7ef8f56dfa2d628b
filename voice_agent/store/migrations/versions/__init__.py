"""Alembic revisions, oldest first (``NNNN_what.py``); see ``voice_agent.store.migrations``."""
