from identity.auth.passwords import Passwords

FAST = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}


def test_hash_is_argon2id_and_verifies() -> None:
    pw = Passwords(**FAST)
    hashed = pw.hash("a long password")
    assert hashed.startswith("$argon2id$")
    assert pw.verify(hashed, "a long password")


def test_wrong_password_does_not_verify() -> None:
    pw = Passwords(**FAST)
    assert not pw.verify(pw.hash("a long password"), "another password")


def test_missing_hash_is_a_miss() -> None:
    assert not Passwords(**FAST).verify(None, "dummy-password-for-timing")


def test_garbage_hash_is_a_miss_not_an_error() -> None:
    assert not Passwords(**FAST).verify("not-a-hash", "whatever")


def test_hash_with_other_parameters_needs_rehash() -> None:
    old = Passwords(**FAST).hash("a long password")
    stronger = Passwords(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, "a long password")


async def test_async_helpers_round_trip() -> None:
    pw = Passwords(**FAST)
    hashed = await pw.hash_async("a long password")
    assert await pw.verify_async(hashed, "a long password")
