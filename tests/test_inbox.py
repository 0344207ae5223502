"""Frames waiting on one socket: at most 100 are queued for the socket's worker, and drafts take one
place however many arrive, so that a burst of keystrokes never crowds out the message behind it.

Each test holds the worker inside its first frame (a draft whose check waits on a gate in the
database thread), sends while it is held, then lets it go: what was queued is decided while nothing
is handled, whatever the speed of the machine."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.consumers import MAX_WAITING_FRAMES
from chat.models import Message

from .test_presence import _chatting, pytest_mark_live


class Gate:
    """Holds the first visitor draft check until ``open``; later checks pass straight through."""

    def __init__(self, monkeypatch):
        self.entered = threading.Event()
        self.released = threading.Event()
        real = services.typing_check_visitor

        def held(**kwargs):
            if not self.entered.is_set():
                self.entered.set()
                assert self.released.wait(30), "the test never opened the gate"
            return real(**kwargs)

        monkeypatch.setattr(services, "typing_check_visitor", held)

    async def hold(self, visitor, chat_id: str) -> None:
        """Send a draft and wait until the worker is inside its check: the queue is empty and stays so."""
        await visitor.drain()
        await visitor.send({"type": "typing", "chat": chat_id, "text": "held"})
        assert await asyncio.to_thread(self.entered.wait, 10), "the worker never reached the draft check"

    def open(self) -> None:
        self.released.set()


@pytest.fixture
def gate(monkeypatch):
    gate = Gate(monkeypatch)
    yield gate
    gate.open()


@database_sync_to_async
def _texts(chat_id: str) -> list[str]:
    return list(Message.objects.filter(chat__public_id=chat_id, author_kind="visitor").order_by("seq")
                .values_list("text", flat=True))


@pytest_mark_live
async def test_a_burst_of_drafts_takes_one_place_and_the_message_behind_it_goes_through(layer, gate):
    agent, visitor, chat, _ = await _chatting()
    await gate.hold(visitor, chat["id"])
    for i in range(3 * MAX_WAITING_FRAMES):
        await visitor.send({"type": "typing", "chat": chat["id"], "text": "x" * (i + 1)})
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "real", "text": "the real one"})
    await visitor.drain(0.3)  # everything is queued or refused by now: the worker is still held
    assert visitor.count("error") == 0, visitor.seen
    gate.open()
    assert (await visitor.expect("message.ack", **{"message.client_id": "real"}))["message"]["seq"] > 0
    await agent.expect_message(client_id="real")
    await agent.drain(0.6)
    drafts = [f["text"] for f in agent.seen if f["type"] == "typing"]
    assert drafts in (["held"], ["held", "x" * 300]), drafts  # the held one, then at most the latest
    await visitor.drain(0.3)
    assert visitor.count("error") == 0, visitor.seen
    assert await _texts(chat["id"]) == ["Hello, I need help", "the real one"]
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_a_draft_sent_after_a_message_is_not_moved_before_it(layer, gate):
    """Only a draft at the end of the queue is replaced: one behind a message stays behind it."""
    agent, visitor, chat, _ = await _chatting()
    await gate.hold(visitor, chat["id"])
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "first words"})
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "m1", "text": "first words"})
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "second"})
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "second thoughts"})
    gate.open()
    await agent.expect_message(client_id="m1")
    await agent.expect("typing", text="second thoughts")  # a draft moved before the message is dropped by it
    await agent.drain(0.6)
    assert agent.count("typing", text="second") == 0, agent.seen
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_past_the_waiting_limit_a_frame_is_refused_by_name_and_taken_when_sent_again(layer, gate):
    agent, visitor, chat, _ = await _chatting()
    await gate.hold(visitor, chat["id"])
    for _ in range(MAX_WAITING_FRAMES):
        await visitor.send({"type": "ping"})
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "late", "text": "one too many"})
    await visitor.send_raw('{"type":"message.send","client_id":"<b>x</b>","chat":"\\u0000","text":"hi"}')
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "a draft behind pings"})
    refused = await visitor.expect("error", client_id="late")
    assert (refused["code"], refused["frame"], refused["chat"], refused["retry_after"]) == (
        "rate_limited", "message.send", chat["id"], 1)
    hostile = await visitor.expect("error", frame="message.send")
    assert hostile["code"] == "rate_limited" and "client_id" not in hostile and "chat" not in hostile, hostile
    draft = await visitor.expect("error", frame="typing")
    assert draft["code"] == "rate_limited"
    gate.open()
    for _ in range(MAX_WAITING_FRAMES):
        await visitor.expect("pong")
    assert await _texts(chat["id"]) == ["Hello, I need help"]
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "late", "text": "one too many"})
    await visitor.expect("message.ack", **{"message.client_id": "late"})
    await agent.expect_message(client_id="late")
    assert await _texts(chat["id"]) == ["Hello, I need help", "one too many"]
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_a_bad_frame_in_the_queue_is_answered_in_its_turn(layer, gate):
    """Frames are parsed as they arrive, and answered in the order they came."""
    agent, visitor, chat, _ = await _chatting()
    await gate.hold(visitor, chat["id"])
    await visitor.send({"type": "ping"})
    await visitor.send_raw("not json")
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "x" * 5001})
    await visitor.send({"type": "ping"})
    gate.open()
    answers = [await visitor.next() for _ in range(4)]
    assert [(a["type"], a.get("code"), a.get("frame")) for a in answers] == [
        ("pong", None, None), ("error", "bad_json", None), ("error", "invalid", "typing"), ("pong", None, None)]
    await agent.close()
    await visitor.close()

