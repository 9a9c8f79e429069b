from datetime import UTC, datetime, timedelta

from kit.ids import uuid7, uuid7_time


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(200)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_time_is_creation_time() -> None:
    assert abs(uuid7_time(uuid7()) - datetime.now(UTC)) < timedelta(seconds=2)
