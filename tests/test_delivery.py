"""What the gap-aware cursor relies on, at the consumer: every seq reaches every client as an event or a
placeholder, a resume answer says how far it covers and whether more follows, a resend repairs a lost
broadcast, a write is always announced even when its socket goes, and hostile text is refused at parse
time. The fault drills (tests/faults/) prove the whole under real faults."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from chat import protocol, selectors
from chat.models import Message

from . import live
from .factories import AgentFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

make_agent = database_sync_to_async(AgentFactory)


async def _chatting():
    """An agent in an accepted chat with a visitor; both sockets have read up to the joined note."""
    user = await make_agent(first_name="Alex", last_name="Agent")
    agent, _ = await live.agent(user)
    visitor, welcome = await live.visitor()
    chat = await live.start_chat(visitor)
    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    await agent.expect_message(event="accepted")
    await visitor.expect_message(event="accepted")
    return agent, visitor, chat, welcome


@database_sync_to_async
def _stored_client_ids(chat_id: str) -> list[str]:
    return list(Message.objects.filter(chat__public_id=chat_id, author_kind="visitor").order_by("seq")
                .values_list("client_id", flat=True))


async def test_a_receipt_reaches_the_visitor_as_a_hidden_seq(layer):
    agent, visitor, chat, _ = await _chatting()
    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "a1", "text": "Hi"})
    seq = (await visitor.expect_message(client_id="a1"))["seq"]
    await visitor.send({"type": "receipt", "chat": chat["id"], "delivered_up_to": seq, "read_up_to": seq})
    receipt = await agent.expect("receipt")
    hidden = await visitor.expect("hidden")
    assert hidden == {"type": "hidden", "chat": chat["id"], "seq": receipt["seq"]}
    assert receipt["seq"] == seq + 1
    # A message after it: the visitor holds every seq with no hole.
    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "a2", "text": "Still there?"})
    assert (await visitor.expect_message(client_id="a2"))["seq"] == seq + 2
    await visitor.drain()
    assert visitor.count("receipt") == 0, "visitors are not sent receipts"
    await agent.close()
    await visitor.close()


async def test_resumed_covers_up_to_last_seq_and_says_when_more_follows(layer, monkeypatch):
    monkeypatch.setattr(selectors, "RESUME_LIMIT", 3)
    agent, visitor, chat, welcome = await _chatting()
    for n in range(4):
        await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": f"v{n}", "text": f"n{n}"})
        await visitor.expect("message.ack", **{"message.client_id": f"v{n}"})
    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "a1", "text": "ok"})
    seq = (await visitor.expect_message(client_id="a1"))["seq"]
    await visitor.send({"type": "receipt", "chat": chat["id"], "read_up_to": seq})
    hidden = (await visitor.expect("hidden"))["seq"]  # 8: the last seq of the chat is a receipt
    assert hidden == 8

    again, _ = await live.visitor(welcome["token"])
    pages, after = [], 0
    while True:
        await again.send({"type": "resume", "chat": chat["id"], "after_seq": after})
        resumed = await again.expect("resumed")
        got = [f["message"]["seq"] for f in again.seen if f["type"] == "message" and f["message"]["seq"] > after]
        pages.append((got, resumed["last_seq"], resumed["more"]))
        after = resumed["last_seq"]
        if not resumed["more"]:
            break
    # Cut at three messages a page; the receipt's seq (8) is covered by the last page, not sent.
    assert pages == [([1, 2, 3], 3, True), ([4, 5, 6], 6, True), ([7], 8, False)]
    await again.close()
    await agent.close()
    await visitor.close()


async def test_a_resume_answer_is_bounded_in_bytes_too(layer, monkeypatch):
    """A page of long messages stops well before a socket's cap on unsent bytes (close 4408), and says
    ``more``: a client that reads is never cut for asking."""
    from chat import consumers

    monkeypatch.setattr(consumers, "RESUME_MAX_BYTES", 12_000)
    agent, visitor, chat, welcome = await _chatting()
    for n in range(6):
        await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": f"long-{n}", "text": "x" * 5000})
        await visitor.expect("message.ack", **{"message.client_id": f"long-{n}"})
    again, _ = await live.visitor(welcome["token"])
    after, pages = 0, []
    while True:
        await again.send({"type": "resume", "chat": chat["id"], "after_seq": after})
        resumed = await again.expect("resumed")
        pages.append(resumed["last_seq"])
        after = resumed["last_seq"]
        if not resumed["more"]:
            break
    got = [f["message"]["seq"] for f in again.seen if f["type"] == "message"]
    assert got == list(range(1, 9)), "every message once, in order, across the pages"
    assert len(pages) >= 2 and pages[0] < 8 and pages[-1] == 8
    await again.close()
    await agent.close()
    await visitor.close()


async def test_a_resend_is_answered_and_broadcast_again(layer):
    """The repair of a lost broadcast: the sender does not know its message never reached the others,
    so its resend goes out again; the others drop a seq they have."""
    agent, visitor, chat, _ = await _chatting()
    frame = {"type": "message.send", "chat": chat["id"], "client_id": "v-again", "text": "Hello?"}
    await visitor.send(frame)
    first = await visitor.expect("message.ack", **{"message.client_id": "v-again"})
    await agent.expect_message(client_id="v-again")
    await visitor.send(frame)
    again = await visitor.expect("message.ack", **{"message.client_id": "v-again"}, duplicate=True)
    assert again["message"]["seq"] == first["message"]["seq"]
    assert (await agent.expect_message(client_id="v-again"))["seq"] == first["message"]["seq"]
    assert await _stored_client_ids(chat["id"]) == ["first", "v-again"]
    await agent.close()
    await visitor.close()


async def test_chat_start_sent_again_answers_with_the_chat_also_after_it_ended(layer):
    user = await make_agent()
    agent, _ = await live.agent(user)
    visitor, welcome = await live.visitor()
    chat = await live.start_chat(visitor, client_id="start-1")
    await visitor.expect("message.ack", **{"message.client_id": "start-1"})
    await agent.expect("chat", **{"chat.id": chat["id"]})

    start = {"type": "chat.start", "name": "Sam Visitor", "email": "sam@example.com", "text": "Hello, I need help",
             "client_id": "start-1"}
    await visitor.send(start)
    assert (await visitor.expect("chat"))["chat"]["id"] == chat["id"]
    ack = await visitor.expect("message.ack", duplicate=True)
    assert ack["message"]["seq"] == 1
    # Announced again, in case the queue never heard of it.
    assert (await agent.expect("chat", **{"chat.id": chat["id"]}))["chat"]["status"] == "queued"

    await visitor.send({"type": "chat.end", "chat": chat["id"]})
    await visitor.expect("chat", **{"chat.status": "ended"})
    await visitor.send(start)
    after_end = await visitor.expect("message.ack", duplicate=True)
    assert after_end["chat"] == chat["id"], "a late resend does not open a second chat"
    await visitor.close()
    await agent.close()


async def test_a_write_whose_socket_is_cancelled_is_still_announced(layer):
    """The socket goes while its message is being stored (a cut, or daphne giving up on it): every
    message that was stored reaches the agent, and none is stored twice."""
    agent, visitor, chat, welcome = await _chatting()
    for n in range(20):
        cut, _ = await live.visitor(welcome["token"])
        await cut.send({"type": "message.send", "chat": chat["id"], "client_id": f"cut-{n}", "text": f"m{n}"})
        await asyncio.sleep(0.001 * (n % 5))  # land the cancellation at different points of the write
        cut.communicator.future.cancel()
    # A marker through the same path: once it is in, every earlier broadcast has been sent.
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "marker", "text": "end"})
    await agent.expect_message(client_id="marker")
    await asyncio.sleep(0)
    stored = [c for c in await _stored_client_ids(chat["id"]) if c.startswith("cut-")]
    await agent.drain()
    announced = {f["message"]["client_id"] for f in agent.seen if f["type"] == "message"}
    assert set(stored) <= announced, f"stored but never announced: {set(stored) - announced}"
    assert len(stored) == len(set(stored))
    await agent.close()
    await visitor.close()


async def test_frames_waiting_when_the_socket_closes_are_not_acted_on(layer):
    """A closed socket's backlog is dropped (the client sends its outbox again on its next socket):
    nothing is stored after the close has been read, and what was stored was announced."""
    agent, visitor, chat, welcome = await _chatting()
    cut, _ = await live.visitor(welcome["token"])
    for n in range(60):
        await cut.send({"type": "message.send", "chat": chat["id"], "client_id": f"q-{n}", "text": f"m{n}"})
    await cut.close()
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "marker", "text": "end"})
    await agent.expect_message(client_id="marker")
    stored = [c for c in await _stored_client_ids(chat["id"]) if c.startswith("q-")]
    assert len(stored) < 60, "the backlog of a closed socket was handled anyway"
    assert stored == [f"q-{n}" for n in range(len(stored))], "what was handled, was handled in order"
    await agent.drain()
    announced = [f["message"]["client_id"] for f in agent.seen if f["type"] == "message"]
    assert [c for c in announced if c and c.startswith("q-")] == stored
    await agent.close()
    await visitor.close()


HOSTILE_FRAMES = [
    ('{"type":"message.send","chat":"C","client_id":"nul","text":"a\\u0000b"}', "invalid"),
    ('{"type":"message.send","chat":"C","client_id":"sur","text":"a\\ud800b"}', "invalid"),
    ('{"type":"message.send","chat":"C","client_id":"lone","text":"\\udfff"}', "invalid"),
    ('{"type":"page.view","url":"https://x.example/\\u0000","title":"t"}', "invalid"),
    ('{"type":"receipt","chat":"C","read_up_to":NaN}', "bad_json"),
    ('{"type":"receipt","chat":"C","read_up_to":Infinity}', "bad_json"),
    ('{"type":"receipt","chat":"C","read_up_to":-Infinity}', "bad_json"),
    ('{"type":"receipt","chat":"C","read_up_to":1' + "0" * 40 + "}", "bad_json"),
    ('{"type":"receipt","chat":"C","read_up_to":1.5}', "invalid"),
    ('{"type":"receipt","chat":"C","read_up_to":1e400}', "invalid"),
    ("[" * 1000 + "]" * 1000, "bad_json"),
    ('{"type":"ping","x":' + "[" * 5000 + "]" * 5000 + "}", "bad_json"),
    ('{"type":"ping","x":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}", "bad_json"),
]


@pytest.mark.parametrize(("text", "code"), HOSTILE_FRAMES)
def test_hostile_text_is_refused_at_parse_time(text, code):
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse(text, protocol.VISITOR_FRAMES)
    assert refused.value.code == code


def test_brackets_inside_strings_are_text():
    frame = protocol.parse('{"type":"message.send","chat":"C","client_id":"b","text":"' + "[{" * 500 + '"}',
                           protocol.VISITOR_FRAMES)
    assert frame.text == "[{" * 500


async def test_hostile_text_is_answered_with_an_error_that_names_it_never_internal(layer):
    _, visitor, chat, _ = await _chatting()
    for text, code in HOSTILE_FRAMES:
        await visitor.send_raw(text.replace('"C"', f'"{chat["id"]}"'))
        error = await visitor.expect("error")
        assert error["code"] == code, (text[:60], error)
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "nul2", "text": "x\u0000"})
    error = await visitor.expect("error")
    assert error["code"] == "invalid" and error["client_id"] == "nul2"
    await visitor.close()
