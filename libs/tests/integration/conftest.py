from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kit.db import Database
from kit.settings import ServiceSettings
from kit.testing import create_topics, fresh_database, unique_topic

MIGRATIONS = Path(__file__).parent / "migrations"
BOOTSTRAP = "127.0.0.1:9092"


@pytest.fixture
async def settings() -> AsyncIterator[ServiceSettings]:
    base = ServiceSettings(
        service_name="kittest",
        environment="test",
        kafka_bootstrap_servers=BOOTSTRAP,
        outbox_poll_interval_s=30.0,
    )
    async with fresh_database(base, MIGRATIONS) as test_settings:
        yield test_settings


@pytest.fixture
async def db(settings: ServiceSettings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def topic() -> str:
    name = unique_topic("kittest.thing")
    await create_topics(BOOTSTRAP, [name])
    return name
