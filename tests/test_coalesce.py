"""Coalescing of ephemeral events: the latest value wins, at most one send per interval."""

import asyncio

from chat.coalesce import LatestOnly


async def test_a_value_after_a_quiet_interval_goes_at_once_and_a_burst_sends_only_its_latest():
    sent = []

    async def send(value):
        sent.append(value)

    typing = LatestOnly(send, interval=0.1)
    await typing.push("H")
    assert sent == ["H"], "the first value is not held back"
    for text in ("He", "Hel", "Hell", "Hello"):
        await typing.push(text)
    assert sent == ["H"], "values inside the interval wait"
    await asyncio.sleep(0.15)
    assert sent == ["H", "Hello"], "one trailing send, of the latest value"
    await asyncio.sleep(0.15)
    await typing.push("Hello!")
    assert sent == ["H", "Hello", "Hello!"]


async def test_a_dropped_value_is_never_sent():
    sent = []

    async def send(value):
        sent.append(value)

    typing = LatestOnly(send, interval=0.05)
    await typing.push("draft")
    await typing.push("draft, longer")
    typing.drop()  # the message was sent for real
    await asyncio.sleep(0.1)
    assert sent == ["draft"]
