import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from kit.testing import create_topics, delete_test_topics, issued_topic_names, unique_topic

pytestmark = pytest.mark.integration

BOOTSTRAP = "127.0.0.1:9092"


async def topics() -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_test_topics_and_their_dead_letter_topics_are_deleted() -> None:
    name = unique_topic("kittest.cleanup")
    assert name in issued_topic_names
    other = unique_topic("kittest.cleanup")
    await create_topics(BOOTSTRAP, [name, f"{name}.dlq.group-1", other])
    deleted = await delete_test_topics(BOOTSTRAP, [name, "never-a-topic.abc"])
    assert deleted == 2
    for _ in range(50):  # deletion completes asynchronously on the broker
        left = await topics()
        if name not in left and f"{name}.dlq.group-1" not in left:
            break
        await asyncio.sleep(0.1)
    assert name not in left and f"{name}.dlq.group-1" not in left
    assert other in left  # a name not passed in is left alone
