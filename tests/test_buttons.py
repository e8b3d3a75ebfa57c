"""Button payloads: round trips within 64 bytes, and every kind of tampering refused cleanly."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from core.buttons import MAX_BYTES, ButtonError, ButtonSigner, ForgedButton, StaleButton
from core.settings import Settings

T0 = 1_750_000_000.0
SHORT = "more:p-0042"
LONG = ("分类:" + "Electronics>Audio>耳机>" * 9 + "🎧" * 20)[:200]
ACTIONS = [SHORT, "", "x" * 40, "x" * 41, "cat:Electronics>Audio", "like:商品-7", "line\nbreak", LONG]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(make_redis: Callable[[], Redis], settings: Settings) -> AsyncIterator[Redis]:
    client = make_redis()
    yield client
    keys = [key async for key in client.scan_iter(match=f"{settings.key_prefix}:*")]
    if keys:
        await client.delete(*keys)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer(redis: Redis, settings: Settings, clock: Clock) -> ButtonSigner:
    return ButtonSigner(redis, replace(settings, button_secret="s3cret"), platform="tg", fallback_key=None, now=clock)


@pytest.mark.parametrize("action", ACTIONS)
async def test_round_trip_within_64_ascii_bytes(signer: ButtonSigner, action: str) -> None:
    data = await signer.pack("1001", action)
    assert data.isascii() and len(data.encode()) <= MAX_BYTES, data
    assert await signer.unpack("1001", data) == action


async def test_long_actions_go_by_reference_and_short_ones_inline(signer: ButtonSigner, redis: Redis) -> None:
    assert len(LONG) == 200
    inline, by_reference = await signer.pack("1001", SHORT), await signer.pack("1001", LONG)
    assert inline.endswith(SHORT) and inline.startswith("1")
    assert by_reference.startswith("2") and len(by_reference) <= MAX_BYTES
    assert await redis.ttl(f"{signer.settings.key_prefix}:button:{by_reference[-22:]}") > signer.settings.button_ttl
    assert await signer.unpack("1001", by_reference) == LONG


@pytest.mark.parametrize("action", [SHORT, LONG])
async def test_changing_any_single_character_is_refused(signer: ButtonSigner, action: str) -> None:
    data = await signer.pack("1001", action)
    for i, char in enumerate(data):
        for other in {"a", "Z", "0", "-", ".", "é"} - {char}:
            with pytest.raises(ForgedButton):
                await signer.unpack("1001", data[:i] + other + data[i + 1:])
    for cut in (data[:-1], data[1:], data + "x", ""):
        with pytest.raises(ForgedButton):
            await signer.unpack("1001", cut)


@pytest.mark.parametrize("action", [SHORT, LONG])
async def test_another_users_payload_is_refused(signer: ButtonSigner, action: str) -> None:
    data = await signer.pack("1001", action)
    for user in ("1002", "100", "10011", ""):
        with pytest.raises(ForgedButton):
            await signer.unpack(user, data)


async def test_another_platforms_payload_is_refused(signer: ButtonSigner) -> None:
    discord = ButtonSigner(signer.redis, signer.settings, platform="discord", fallback_key=None, now=signer._now)
    for action in (SHORT, LONG):
        with pytest.raises(ForgedButton):
            await discord.unpack("1001", await signer.pack("1001", action))


async def test_another_keys_payload_is_refused(signer: ButtonSigner) -> None:
    other = ButtonSigner(signer.redis, replace(signer.settings, button_secret="other"), platform="tg",
                         fallback_key=None, now=signer._now)
    for action in (SHORT, LONG):
        with pytest.raises(ForgedButton):
            await other.unpack("1001", await signer.pack("1001", action))


@pytest.mark.parametrize("action", [SHORT, LONG])
async def test_old_and_future_payloads_are_stale(signer: ButtonSigner, clock: Clock, action: str) -> None:
    data = await signer.pack("1001", action)
    ttl = signer.settings.button_ttl
    clock.now = T0 + ttl - 1
    assert await signer.unpack("1001", data) == action
    clock.now = T0 + ttl + 1
    with pytest.raises(StaleButton):
        await signer.unpack("1001", data)
    clock.now = T0 - 299  # another replica's clock a little behind
    assert await signer.unpack("1001", data) == action
    clock.now = T0 - 301
    with pytest.raises(StaleButton):
        await signer.unpack("1001", data)


async def test_a_reference_gone_from_redis_is_stale(signer: ButtonSigner, redis: Redis) -> None:
    data = await signer.pack("1001", LONG)
    await redis.delete(f"{signer.settings.key_prefix}:button:{data[-22:]}")
    with pytest.raises(StaleButton):
        await signer.unpack("1001", data)


async def test_a_stored_action_changed_in_redis_is_refused(signer: ButtonSigner, redis: Redis) -> None:
    data = await signer.pack("1001", LONG)
    await redis.set(f"{signer.settings.key_prefix}:button:{data[-22:]}", "buy:everything")
    with pytest.raises(ForgedButton):
        await signer.unpack("1001", data)
    await redis.set(f"{signer.settings.key_prefix}:button:{data[-22:]}", b"\xff\xfe")
    with pytest.raises(ForgedButton):
        await signer.unpack("1001", data)


async def test_unknown_versions_are_refused(signer: ButtonSigner) -> None:
    data = await signer.pack("1001", SHORT)
    for version in "03a~":
        with pytest.raises(ForgedButton):
            await signer.unpack("1001", version + data[1:])


async def test_a_key_derived_from_the_token_is_shared_by_replicas_and_differs_per_token(
    redis: Redis, settings: Settings,
) -> None:
    assert settings.button_secret is None

    def make(token: str) -> ButtonSigner:
        return ButtonSigner(redis, settings, platform="tg", fallback_key=token, now=lambda: T0)

    data = await make("123:ABC").pack("1001", SHORT)
    assert await make("123:ABC").unpack("1001", data) == SHORT  # another replica, same token
    with pytest.raises(ForgedButton):
        await make("456:DEF").unpack("1001", data)
    assert make("123:ABC")._key != b"123:ABC"  # the token itself is never the key
    explicit = ButtonSigner(redis, replace(settings, button_secret="s"), platform="tg", fallback_key="123:ABC")
    assert explicit._key == b"s"  # an explicit secret wins over the token


def test_no_secret_and_no_token_is_refused(redis: Redis, settings: Settings) -> None:
    for token in (None, ""):
        with pytest.raises(ValueError, match="BUTTON_SECRET"):
            ButtonSigner(redis, settings, platform="tg", fallback_key=token)


async def test_fuzz_never_raises_anything_but_button_errors(signer: ButtonSigner) -> None:
    rng = random.Random(20240611)
    valid = [await signer.pack("1001", a) for a in (SHORT, LONG)]
    alphabet = string.ascii_letters + string.digits + "-_.:|>" + "\x00\x7f€中🎧"
    inputs: list[object] = [None, 42, b"1abc", "", " ", "\x00" * 64, "1" * 65, "1zzzzzzzz.AAAAAAAAAAAAAAAA"]
    for _ in range(1500):
        kind = rng.randrange(4)
        if kind == 0:
            inputs.append(bytes(rng.randrange(256) for _ in range(rng.randrange(80))).decode("utf-8", "replace"))
        elif kind == 1:
            inputs.append(bytes(rng.randrange(256) for _ in range(rng.randrange(80))).decode("latin-1"))
        elif kind == 2:
            inputs.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(80))))
        else:  # a valid payload, partly rewritten
            chars = list(rng.choice(valid))
            for _ in range(rng.randrange(1, 4)):
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
            inputs.append("".join(chars))
    accepted = []
    for data in inputs:
        try:
            await signer.unpack("1001", data)  # type: ignore[arg-type]
            accepted.append(data)
        except ButtonError:
            pass
    assert all(data in valid for data in accepted)  # only a rewrite that happened to change nothing
