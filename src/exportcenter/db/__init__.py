"""Metadata and job state: SQLAlchemy 2 on SQLite (embedded default) or PostgreSQL (scale-out)."""
