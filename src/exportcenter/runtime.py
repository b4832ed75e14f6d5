"""The objects one process shares: settings, database engine, sessions and the artifact store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from exportcenter.config import Settings, get_settings
from exportcenter.db.engine import make_engine, require_migrated, session_factory, upgrade
from exportcenter.storage import ArtifactStore, open_store


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ArtifactStore

    @classmethod
    def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
        """``migrate=True`` (CLI, embedded default) brings the schema up to date; the API passes False
        and refuses to start on an unmigrated schema."""
        settings = settings or get_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if migrate and settings.resolved_database_url.startswith("sqlite"):
            upgrade(engine)
        require_migrated(engine)
        return cls(settings, engine, session_factory(engine), open_store(settings))

    def close(self) -> None:
        self.engine.dispose()
