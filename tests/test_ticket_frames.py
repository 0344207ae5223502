"""The chat header, properties pane, rating, transcript and presence frames over real sockets, on the
in-memory and the Redis layer."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from chat.models import Chat
from tickets.models import Ticket, TranscriptEmail

from . import live
from .factories import AgentFactory, DepartmentFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

make_agent = database_sync_to_async(AgentFactory)


async def answer(socket, chat_id: str) -> dict:
    """The answer to ``chat.details``: the ``details`` frame with the agent's own ``star`` (broadcasts
    of changes, which may come first, have none)."""
    while True:
        frame = await socket.expect("details", chat=chat_id)
        if "star" in frame:
            return frame


async def a_chat_with_an_agent(**agent_fields):
    user = await make_agent(first_name="Alex", last_name="Agent", **agent_fields)
    agent, _ = await live.agent(user)
    visitor, welcome = await live.visitor()
    visitor.token = welcome["token"]
    chat = await live.start_chat(visitor, text="Where is my order?")
    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    await agent.expect("chat", **{"chat.status": "active"})
    return user, agent, visitor, chat


async def test_details_labels_and_stars(layer):
    user, agent, visitor, chat = await a_chat_with_an_agent()
    await agent.send({"type": "chat.details", "chat": chat["id"]})
    found = await answer(agent, chat["id"])
    assert found["ticket"]["ref"].startswith("HD-") and found["ticket"]["status"] == "open"
    assert found["ticket"]["agent"] == {"id": user.pk, "name": "Alex Agent"}
    assert found["visitor"]["presence"] == "online"
    assert found["star"] is None and {"id": user.pk, "name": "Alex Agent"} in found["choices"]["agents"]

    other_user = await make_agent()
    other, _ = await live.agent(other_user)
    await other.send({"type": "chat.watch", "chat": chat["id"]})
    await other.expect("resumed", chat=chat["id"])

    await agent.send({"type": "chat.label", "chat": chat["id"], "add": " vip "})
    await agent.expect("details", chat=chat["id"], **{"ticket.labels": ["vip"]})
    told = await other.expect("details", chat=chat["id"], **{"ticket.labels": ["vip"]})
    assert "star" not in told and "choices" not in told, "a broadcast carries nothing personal"

    await agent.send({"type": "chat.star", "chat": chat["id"], "colour": "red"})
    assert (await agent.expect("star", chat=chat["id"]))["colour"] == "red"
    await other.send({"type": "ping"})
    await other.expect("pong")
    assert other.count("star") == 0, "nobody else hears of an agent's star"
    again, welcome = await live.agent(user)
    assert welcome["stars"] == {chat["id"]: "red"}, "a new console of the agent lists their stars"
    assert (await live.agent(other_user))[1]["stars"] == {}

    await agent.send({"type": "chat.label", "chat": chat["id"], "add": "x" * 40})
    refused = await agent.expect("error", frame="chat.label")
    assert refused["code"] == "invalid" and "at most 32" in refused["message"]
    await agent.send({"type": "chat.label", "chat": chat["id"], "add": "a", "remove": "b"})
    assert "exactly one" in (await agent.expect("error", frame="chat.label"))["message"]
    for socket in (agent, other, visitor, again):
        await socket.close()


async def test_transfer_notifies_the_new_agent_and_keeps_one_assignee(layer):
    user, agent, visitor, chat = await a_chat_with_an_agent()
    second_user = await make_agent(first_name="Sam", last_name="Second")
    second, _ = await live.agent(second_user)
    await agent.send({"type": "chat.assign", "chat": chat["id"], "agent": second_user.pk})
    await agent.expect("details", chat=chat["id"], **{"ticket.agent.id": second_user.pk})
    assigned = await second.expect("chat.assigned", **{"chat.id": chat["id"]})
    assert assigned["by"] == "Alex Agent" and assigned["chat"]["agent_id"] == second_user.pk
    note = await visitor.expect_message(event="transferred")
    assert "Alex Agent transferred the chat to Sam Second." in note["html"]

    @database_sync_to_async
    def assignees():
        row = Chat.objects.select_related("ticket").get(public_id=chat["id"])
        return row.agent_id, row.ticket.assigned_agent_id

    assert await assignees() == (second_user.pk, second_user.pk)
    await agent.send({"type": "chat.department", "chat": chat["id"], "department": 987654})
    assert "no such department" in (await agent.expect("error", frame="chat.department"))["message"]
    department = await database_sync_to_async(DepartmentFactory)(name="Billing")
    await agent.send({"type": "chat.department", "chat": chat["id"], "department": department.pk})
    await agent.expect("details", chat=chat["id"], **{"ticket.department.name": "Billing"})
    for socket in (agent, second, visitor):
        await socket.close()


async def test_other_agents_hear_of_the_accept_and_of_the_email_going_out(layer):
    user = await make_agent(first_name="Alex", last_name="Agent")
    agent, _ = await live.agent(user)
    watcher, _ = await live.agent(await make_agent())
    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor)
    await watcher.send({"type": "chat.watch", "chat": chat["id"]})
    await watcher.expect("resumed", chat=chat["id"])
    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    told = await watcher.expect("details", chat=chat["id"], **{"session.status": "active"})
    assert told["ticket"]["agent"]["name"] == "Alex Agent"
    await agent.send({"type": "chat.end", "chat": chat["id"]})
    # The task sends the email after the end commits (in-process in tests), then tells the agents.
    while True:
        emails = (await watcher.expect("details", chat=chat["id"]))["ticket"]["transcript_emails"]
        if emails and emails[0]["state"] == "sent":
            break
    assert emails[0]["sent_at"] is not None
    for socket in (agent, watcher, visitor):
        await socket.close()


async def test_end_rate_and_ask_for_the_transcript_again(layer):
    user, agent, visitor, chat = await a_chat_with_an_agent()
    await visitor.send({"type": "transcript.request", "chat": chat["id"]})
    assert "when the chat ends" in (await visitor.expect("error", frame="transcript.request"))["message"]
    await agent.send({"type": "chat.watch", "chat": chat["id"]})
    await agent.expect("resumed", chat=chat["id"])
    await visitor.send({"type": "chat.end", "chat": chat["id"]})
    await visitor.expect("chat", **{"chat.status": "ended"})
    resolved = await agent.expect("details", chat=chat["id"], **{"ticket.status": "resolved"})
    assert [e["reason"] for e in resolved["ticket"]["transcript_emails"]][-1:] == ["auto"]

    await visitor.send({"type": "chat.rate", "chat": chat["id"], "rating": "good", "comment": " Quick! "})
    assert (await visitor.expect("chat.rated", chat=chat["id"]))["comment"] == "Quick!"
    rated = await agent.expect("chat.rated", chat=chat["id"])
    assert (rated["rating"], rated["comment"]) == ("good", "Quick!")
    await visitor.send({"type": "chat.rate", "chat": chat["id"], "rating": "meh"})
    assert (await visitor.expect("error", frame="chat.rate"))["code"] == "invalid"
    back, welcome = await live.visitor(visitor.token)
    assert welcome["chat"]["rating"] == {"value": "good", "comment": "Quick!"}, "another device shows it too"
    await back.close()

    await visitor.send({"type": "transcript.request", "chat": chat["id"]})
    assert (await visitor.expect("transcript.requested", chat=chat["id"]))["to"] == "sam@example.com"

    @database_sync_to_async
    def ticket_state():
        ticket = Ticket.objects.get(chat_for_ticket_lookup(chat["id"]))
        return ticket.rating, sorted(TranscriptEmail.objects.filter(ticket=ticket).values_list("reason", flat=True))

    assert await ticket_state() == ("good", ["auto", "visitor"])
    await agent.send({"type": "transcript.send", "chat": chat["id"]})
    while True:  # the broadcasts of the rating and the request come first
        sent = (await agent.expect("details", chat=chat["id"]))["ticket"]["transcript_emails"]
        if sent and sent[0]["reason"] == "agent":
            break
    assert sent[0]["to"] == "sam@example.com"
    for socket in (agent, visitor):
        await socket.close()


def chat_for_ticket_lookup(chat_public_id):
    from django.db.models import Q

    return Q(pk=Chat.objects.filter(public_id=chat_public_id).values("ticket_id")[:1])


async def test_agents_see_the_visitor_go_away_come_back_and_leave(layer):
    user, agent, visitor, chat = await a_chat_with_an_agent()
    await agent.send({"type": "chat.watch", "chat": chat["id"]})
    await agent.expect("resumed", chat=chat["id"])
    await visitor.send({"type": "presence", "hidden": True})
    await agent.expect("presence", chat=chat["id"], state="away")
    await visitor.send({"type": "presence", "hidden": False})
    await agent.expect("presence", chat=chat["id"], state="online")
    await visitor.send({"type": "presence", "hidden": "yes"})
    assert (await visitor.expect("error", frame="presence"))["code"] == "invalid"
    await visitor.close()
    await agent.expect("presence", chat=chat["id"], state="gone")
    await agent.close()


async def test_one_heartbeat_keeps_every_open_widget_of_the_process_here(layer, monkeypatch):
    from chat import heartbeat as heartbeats
    from chat import presence
    from chat.models import Visitor

    monkeypatch.setattr(presence, "HEARTBEAT_SECONDS", 0.05)
    sockets = [(await live.visitor())[0] for _ in range(3)]
    ids = await database_sync_to_async(lambda: list(Visitor.objects.values_list("pk", flat=True)))()
    for _ in range(200):  # each registers once its hello is counted, just after its welcome
        if sorted(heartbeats.heartbeat().visitors) == sorted(ids):
            break
        await asyncio.sleep(0.02)
    assert sorted(heartbeats.heartbeat().visitors) == sorted(ids)

    @database_sync_to_async
    def all_seen_since(moment) -> bool:
        return Visitor.objects.filter(last_seen_at__gt=moment).count() == len(ids)

    from django.utils import timezone

    moment = timezone.now()
    for _ in range(200):  # beats every 50 ms: a few of them
        if await all_seen_since(moment):
            break
        await asyncio.sleep(0.02)
    assert await all_seen_since(moment)
    for socket in sockets:
        await socket.close()
    assert not heartbeats.heartbeat().visitors, "a closed socket is no longer beaten for"



async def test_the_reply_preview_is_the_html_the_message_will_have(layer):
    user, agent, visitor, chat = await a_chat_with_an_agent()
    text = "**Bold**, *it*, `<script>` and a [link](https://shop.example/a)\n\n```\n<b>as typed</b> &amp;\n```"
    await agent.send({"type": "message.preview", "text": text, "ref": "p-1"})
    preview = await agent.expect("preview", ref="p-1")
    assert "<strong>Bold</strong>" in preview["html"] and "<em>it</em>" in preview["html"]
    assert "<code>&lt;script&gt;</code>" in preview["html"], "code shows what was typed, escaped once"
    assert "&lt;b&gt;as typed&lt;/b&gt; &amp;amp;" in preview["html"]
    assert 'rel="noopener noreferrer nofollow"' in preview["html"] and 'target="_blank"' in preview["html"]
    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "sent-1", "text": text})
    ack = await agent.expect("message.ack", **{"message.client_id": "sent-1"})
    assert ack["message"]["html"] == preview["html"], "what the preview showed is what was sent"

    await agent.send({"type": "message.preview", "text": "<img src=x onerror=alert(1)> hi", "ref": "p-2"})
    assert "<img" not in (await agent.expect("preview", ref="p-2"))["html"]
    await agent.send({"type": "message.preview", "text": "> " * 40 + "deep", "ref": "p-3"})
    refused = await agent.expect("error", frame="message.preview")
    assert refused["code"] == "invalid" and "nested" in refused["message"]
    await agent.send({"type": "message.preview", "text": "x" * 5001, "ref": "p-5"})
    assert "at most 5,000" in (await agent.expect("error", frame="message.preview"))["message"]
    await agent.send({"type": "message.preview", "text": "  \n", "ref": "p-4"})
    assert (await agent.expect("preview", ref="p-4"))["html"] == ""
    await visitor.send({"type": "message.preview", "text": "hi"})
    assert (await visitor.expect("error"))["code"] == "unknown_type", "agents only"
    for socket in (agent, visitor):
        await socket.close()
