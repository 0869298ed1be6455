"""The composition root: build the engine, sessions, blob store and clock once per process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from worker.adapters.clock import Clock, utcnow
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.store import BlobStore, open_store


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    clock: Clock = utcnow

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings) -> Services:
    engine = make_engine(settings.database_url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        store=open_store(settings.store_url, s3_endpoint_url=settings.s3_endpoint_url),
    )
