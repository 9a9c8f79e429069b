from __future__ import annotations

import pytest
from gateway.redis_pipe import RedisPipe, RedisReplyError, _Incomplete, encode_command, parse_reply


def test_commands_are_encoded_as_resp_arrays():
    assert encode_command(b"EVALSHA", "ab", 2, 0.5) == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$3\r\n0.5\r\n"
    )


def test_replies_of_every_type_are_parsed():
    buf = b"*6\r\n:1\r\n:4\r\n:0\r\n:5\r\n:200\r\n:0\r\n+OK\r\n$3\r\nabc\r\n$-1\r\n-ERR bad\r\n"
    value, pos = parse_reply(buf)
    assert value == [1, 4, 0, 5, 200, 0]
    value, pos = parse_reply(buf, pos)
    assert value == "OK"
    value, pos = parse_reply(buf, pos)
    assert value == b"abc"
    value, pos = parse_reply(buf, pos)
    assert value is None
    value, pos = parse_reply(buf, pos)
    assert isinstance(value, RedisReplyError) and str(value) == "ERR bad"
    assert pos == len(buf)


@pytest.mark.parametrize("partial", [b"*2\r\n:1\r\n", b"$5\r\nab", b":12", b""])
def test_partial_replies_wait_for_more_bytes(partial):
    with pytest.raises(_Incomplete):
        parse_reply(partial)


def test_noscript_error_is_recognised():
    assert RedisReplyError("NOSCRIPT No matching script").is_noscript
    assert not RedisReplyError("ERR x").is_noscript


def test_url_parsing():
    r = RedisPipe("redis://user:p%40ss@cache.local:6380/3")
    assert (r.host, r.port, r.username, r.password, r.db) == (
        "cache.local",
        6380,
        "user",
        "p@ss",
        3,
    )
    with pytest.raises(ValueError):
        RedisPipe("unix:///tmp/redis.sock")
