"""A pytest plugin (``-p kit.pytest_plugin`` in the workspace's pytest options): at the
end of a session, delete the Kafka topics its tests named with
:func:`kit.testing.unique_topic`, so a developer's local broker does not collect
hundreds of one-off topics over many test runs.

Best effort: when Kafka is not there (unit tests only) or slow, nothing is deleted and
the session's result is not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from kit.testing import delete_test_topics, issued_topic_names


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not issued_topic_names or os.environ.get("KIT_KEEP_TEST_TOPICS"):
        return
    bootstrap = os.environ.get("KIT_TEST_KAFKA", "127.0.0.1:9092")
    with contextlib.suppress(Exception):
        asyncio.run(asyncio.wait_for(delete_test_topics(bootstrap, set(issued_topic_names)), 15))
