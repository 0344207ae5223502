"""The services: validation, writes, and broadcasts that go out only after commit."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import events, services
from chat.errors import ChatClosed, Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Chat, Message
from chat.services import Actor
from tickets.models import Ticket

from .concurrency import needs_concurrent_writers, run_at_once
from .factories import AgentFactory, DepartmentFactory, VisitorFactory, start_chat

pytestmark = pytest.mark.django_db


def listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(channel: str) -> list[dict]:
    """Every frame waiting on the in-memory layer for ``channel``."""
    layer = get_channel_layer()
    frames = []
    while layer.channels.get(channel) and not layer.channels[channel].empty():
        message = async_to_sync(layer.receive)(channel)
        frames.append(json.loads(message["text"]))
    return frames


def post(chat, actor, text="hi", client_id="c1"):
    return services.message_post(chat_public_id=chat.public_id, actor=actor, client_id=client_id, text=text)


class TestChatStart:
    def test_creates_chat_ticket_and_first_message(self):
        visitor = VisitorFactory()
        department = DepartmentFactory(name="Sales")
        chat = start_chat(visitor, text="Where is my order?", department=department, ip_address="203.0.113.5",
                          user_agent="Firefox")
        assert chat.status == Chat.Status.QUEUED
        assert chat.department == department
        assert chat.ip_address == "203.0.113.5"
        assert chat.user_agent == "Firefox"
        first = chat.messages.get()
        assert (first.seq, first.author_kind, first.text) == (1, "visitor", "Where is my order?")
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.ref == f"HD-{ticket.pk:06d}"
        assert (ticket.requester_name, ticket.requester_email) == ("Sam Visitor", "sam@example.com")
        assert ticket.department == department
        assert ticket.subject == "Where is my order?"
        visitor.refresh_from_db()
        assert (visitor.name, visitor.email) == ("Sam Visitor", "sam@example.com")

    def test_broadcasts_only_after_commit(self, django_capture_on_commit_callbacks):
        visitor = VisitorFactory()
        queue = listen(events.AGENTS_GROUP)
        mine = listen(events.visitor_group(visitor.pk))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            start_chat(visitor)
        assert received(queue) == [] and received(mine) == []
        assert callbacks, "the service registered its broadcast with on_commit"
        for callback in callbacks:
            callback()
        queued = received(queue)
        assert [f["type"] for f in queued] == ["chat"]
        assert queued[0]["chat"]["status"] == "queued"
        assert queued[0]["chat"]["visitor"] == {"name": "Sam Visitor", "email": "sam@example.com"}
        assert [f["type"] for f in received(mine)] == ["chat"], "the message goes to the chat's group"

    def test_nothing_broadcast_when_the_transaction_fails(self, django_capture_on_commit_callbacks):
        queue = listen(events.AGENTS_GROUP)
        with django_capture_on_commit_callbacks(execute=True):
            with pytest.raises(InvalidInput):
                start_chat(email="not-an-email")
        assert received(queue) == []
        assert not Chat.objects.exists()

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("name", "  ", "Please tell us your name."),
            ("name", "x" * 101, "A name can be at most 100 characters long."),
            ("email", "sam@", "Please give a valid email address, so that we can reply."),
            ("text", "   \n ", "A message cannot be empty."),
            ("client_id", "has space", "client_id must be 1 to 64 letters, digits or - _ . :"),
        ],
    )
    def test_refuses_bad_input_with_a_readable_message(self, field, value, message):
        with pytest.raises(InvalidInput) as error:
            start_chat(**{field: value})
        assert error.value.message == message
        assert not Chat.objects.exists() and not Ticket.objects.exists()

    def test_department_required_when_several_are_offered(self):
        DepartmentFactory(), DepartmentFactory()
        with pytest.raises(InvalidInput, match="choose a department"):
            start_chat()

    def test_single_department_is_implied(self):
        only = DepartmentFactory()
        assert start_chat().department == only

    def test_inactive_department_refused(self):
        closed = DepartmentFactory(is_active=False)
        DepartmentFactory()
        with pytest.raises(InvalidInput, match="does not take chats"):
            start_chat(department=closed)

    def test_resend_with_same_client_id_answers_with_the_same_chat(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor, client_id="same")
        again = services.chat_start(visitor_id=visitor.pk, name="Sam", email="sam@example.com", department_id=None,
                                    text="Hello, I need help", client_id="same")
        assert again.duplicate and again.chat.pk == chat.pk
        assert Chat.objects.count() == 1 and Message.objects.count() == 1

    def test_second_open_chat_refused(self):
        visitor = VisitorFactory()
        start_chat(visitor, client_id="one")
        with pytest.raises(Conflict, match="already have a chat open"):
            start_chat(visitor, client_id="two")

    def test_new_chat_after_the_last_ended(self):
        visitor = VisitorFactory()
        first = start_chat(visitor, client_id="one")
        services.chat_end(chat_public_id=first.public_id, actor=Actor.for_visitor(visitor.pk))
        second = start_chat(visitor, client_id="two")
        assert second.pk != first.pk and second.status == "queued"


class TestMessagePost:
    def test_seq_increases_per_chat(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        other = start_chat()
        seqs = [post(chat, Actor.for_visitor(visitor.pk), client_id=f"m{i}").message.seq for i in range(3)]
        assert seqs == [2, 3, 4]
        assert other.messages.get().seq == 1
        chat.refresh_from_db()
        assert chat.last_seq == 4

    def test_same_client_id_stored_once(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        first = post(chat, Actor.for_visitor(visitor.pk), text="once", client_id="dup")
        second = post(chat, Actor.for_visitor(visitor.pk), text="once", client_id="dup")
        assert not first.duplicate and second.duplicate
        assert second.message.pk == first.message.pk
        assert chat.messages.filter(client_id="dup").count() == 1

    def test_duplicate_is_broadcast_again_with_its_stored_seq(self, django_capture_on_commit_callbacks):
        """A resend may be the repair of a lost broadcast: the stored message goes out again, same seq."""
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        mine = listen(events.chat_group(chat.pk))
        with django_capture_on_commit_callbacks(execute=True):
            first = post(chat, Actor.for_visitor(visitor.pk), client_id="dup")
            post(chat, Actor.for_visitor(visitor.pk), text="changed on the way", client_id="dup")
        frames = received(mine)
        assert [(f["message"]["client_id"], f["message"]["seq"]) for f in frames] == [("dup", first.message.seq)] * 2
        assert frames[0] == frames[1]

    def test_limits(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        actor = Actor.for_visitor(visitor.pk)
        assert post(chat, actor, text="x" * 5000, client_id="max").message.text == "x" * 5000
        with pytest.raises(InvalidInput, match="at most 5,000 characters"):
            post(chat, actor, text="x" * 5001, client_id="over")
        with pytest.raises(InvalidInput, match="cannot be empty"):
            post(chat, actor, text="", client_id="empty")

    def test_visitor_cannot_write_to_another_visitors_chat(self):
        chat = start_chat()
        stranger = VisitorFactory()
        with pytest.raises(NotFound):
            post(chat, Actor.for_visitor(stranger.pk))
        assert chat.messages.count() == 1

    def test_agent_must_accept_before_replying(self):
        chat = start_chat()
        agent, other = AgentFactory(), AgentFactory()
        with pytest.raises(NotAllowed, match="Accept the chat"):
            post(chat, Actor.for_agent(agent))
        services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        with pytest.raises(NotAllowed):
            post(chat, Actor.for_agent(other))
        reply = post(chat, Actor.for_agent(agent), text="**Hi** there").message
        assert reply.author_kind == "agent" and reply.author_agent == agent
        assert "<strong>Hi</strong>" in reply.html

    def test_resend_after_the_chat_ended_gets_the_stored_message(self):
        """The outbox is resent after a reconnect; if the chat ended meanwhile, a message stored
        before the end is answered as a duplicate, not refused."""
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        stored = post(chat, Actor.for_visitor(visitor.pk), text="sent before the end", client_id="early")
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
        again = post(chat, Actor.for_visitor(visitor.pk), text="sent before the end", client_id="early")
        assert again.duplicate and again.message.pk == stored.message.pk
        chat.refresh_from_db()
        assert chat.last_seq == 3, "a resend takes no seq"

    def test_ended_chat_takes_no_messages(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
        with pytest.raises(ChatClosed):
            post(chat, Actor.for_visitor(visitor.pk), client_id="late")

    def test_visitor_text_is_escaped(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        html = post(chat, Actor.for_visitor(visitor.pk), text="<script>alert(1)</script> see https://example.com").message.html
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html

    def test_agent_markdown_is_sanitised(self):
        chat = start_chat()
        agent = AgentFactory()
        services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        text = "[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
        html = post(chat, Actor.for_agent(agent), text=text).message.html
        assert "javascript:" not in html and "onerror" not in html and "<img" not in html


class TestAcceptAndEnd:
    def test_accept_assigns_chat_and_ticket_and_notes_it(self, django_capture_on_commit_callbacks):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        agent = AgentFactory(first_name="Alex", last_name="Agent")
        mine = listen(events.visitor_group(visitor.pk))
        everyone = listen(events.chat_group(chat.pk))
        with django_capture_on_commit_callbacks(execute=True):
            services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        chat.refresh_from_db()
        assert chat.status == "active" and chat.agent == agent and chat.accepted_at
        assert Ticket.objects.get(pk=chat.ticket_id).assigned_agent == agent
        note = chat.messages.get(seq=2)
        assert (note.author_kind, note.event, note.text) == ("system", "accepted", "Alex Agent joined the chat.")
        assert [f["message"]["event"] for f in received(everyone)] == ["accepted"]
        frames = received(mine)
        assert [f["type"] for f in frames] == ["chat"]
        assert frames[0]["chat"]["agent_name"] == "Alex Agent"
        assert "ip_address" not in frames[0]["chat"], "visitors are not sent agent-only fields"

    def test_second_agent_gets_conflict(self):
        chat = start_chat()
        first, second = AgentFactory(first_name="Alex", last_name="A"), AgentFactory()
        services.chat_accept(chat_public_id=chat.public_id, agent=first)
        with pytest.raises(Conflict, match="Alex A has already accepted"):
            services.chat_accept(chat_public_id=chat.public_id, agent=second)
        again = services.chat_accept(chat_public_id=chat.public_id, agent=first)
        assert again.agent == first and again.messages.filter(event="accepted").count() == 1

    def test_accept_unknown_chat(self):
        with pytest.raises(NotFound):
            services.chat_accept(chat_public_id="NOPE", agent=AgentFactory())

    def test_end_by_visitor_is_noted_once(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
        chat.refresh_from_db()
        assert chat.status == "ended" and chat.ended_at
        assert list(chat.messages.filter(event="ended").values_list("text", flat=True)) == [
            "Sam Visitor ended the chat."
        ]

    def test_only_the_assigned_agent_ends_an_active_chat(self):
        chat = start_chat()
        agent, other = AgentFactory(), AgentFactory()
        services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        with pytest.raises(NotAllowed):
            services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(other))
        assert services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent)).status == "ended"

    def test_any_agent_may_end_a_queued_chat(self):
        chat = start_chat()
        assert services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(AgentFactory())).status == "ended"


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_client_id_store_one_message():
    """Two sockets racing with the same client_id: the unique constraint and a retry keep one row."""
    needs_concurrent_writers()
    visitor = VisitorFactory()
    chat = start_chat(visitor)
    results = run_at_once(4, lambda: post(chat, Actor.for_visitor(visitor.pk), text="race", client_id="racer"))
    assert len(results) == 4
    assert len({r.message.pk for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert list(chat.messages.values_list("seq", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    "text, link",
    [
        ("see https://example.com/a?b=1 now", "https://example.com/a?b=1"),
        ("www.example.org is ours", "http://www.example.org"),
        ("mail shop.example.co.uk today", "http://shop.example.co.uk"),
        ("no link here, just words. And a sentence.", None),
        ("e.g. this is fine", None),
    ],
)
def test_visitor_links_are_made_only_where_there_is_one(text, link):
    from chat.rendering import render_plain

    html = render_plain(text)
    if link:
        assert f'href="{link}"' in html
    else:
        assert "<a " not in html and html == text
