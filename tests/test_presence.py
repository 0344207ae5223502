"""Typing preview, read receipts and page views: services, and consumers on both channel layers."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import limits, services
from chat.errors import InvalidInput, NotFound
from chat.models import ChatSettings, Message, PageView
from chat.selectors import chat_journey, forget_cached_settings
from chat.services import Actor

from . import live
from .concurrency import needs_concurrent_writers, run_at_once
from .factories import AgentFactory, VisitorFactory, start_chat


def _agent_says(chat, agent, *texts):
    return [
        services.message_post(chat_public_id=chat.public_id, actor=Actor.for_agent(agent), client_id=f"a-{t}",
                              text=t).message
        for t in texts
    ]


@pytest.mark.django_db
class TestReceipts:
    def setup_chat(self):
        visitor = VisitorFactory()
        chat = start_chat(visitor)
        agent = AgentFactory()
        services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        return visitor, chat, agent

    def mark(self, visitor, chat, delivered=0, read=0):
        return services.messages_mark(chat_public_id=chat.public_id, visitor_id=visitor.pk,
                                      delivered_up_to=delivered, read_up_to=read)

    def test_read_is_stored_once_with_its_own_seq(self):
        visitor, chat, agent = self.setup_chat()
        first, second = _agent_says(chat, agent, "one", "two")
        seq = self.mark(visitor, chat, read=first.seq)
        assert seq == second.seq + 1
        first.refresh_from_db()
        assert first.read_at and first.delivered_at and first.receipt_seq == seq
        read_at = first.read_at
        assert self.mark(visitor, chat, read=first.seq) is None, "a second receipt changes nothing"
        first.refresh_from_db()
        assert first.read_at == read_at
        assert Message.objects.get(pk=second.pk).read_at is None

    def test_delivered_before_read(self):
        visitor, chat, agent = self.setup_chat()
        (reply,) = _agent_says(chat, agent, "hello")
        self.mark(visitor, chat, delivered=reply.seq)
        reply.refresh_from_db()
        assert reply.delivered_at and reply.read_at is None
        self.mark(visitor, chat, delivered=reply.seq, read=reply.seq)
        reply.refresh_from_db()
        assert reply.read_at >= reply.delivered_at

    def test_only_agent_messages_get_receipts(self):
        visitor, chat, agent = self.setup_chat()
        assert self.mark(visitor, chat, read=chat.last_seq) is None
        assert not Message.objects.filter(read_at__isnull=False).exists()

    @pytest.mark.django_db(transaction=True)
    def test_two_tabs_marking_at_once_take_one_seq(self):
        """Both tabs see unread messages; the one that loses the race changes nothing and must not
        leave a seq without an event behind."""
        needs_concurrent_writers()
        visitor, chat, agent = self.setup_chat()
        for round_ in range(5):
            (reply,) = _agent_says(chat, agent, f"round-{round_}")
            seqs = run_at_once(2, lambda up_to=reply.seq: self.mark(visitor, chat, delivered=up_to, read=up_to))
            taken = [seq for seq in seqs if seq is not None]
            chat.refresh_from_db()
            assert chat.last_seq == reply.seq + len(taken), "every seq taken belongs to a receipt sent"
            assert Message.objects.filter(chat=chat, receipt_seq__gt=reply.seq).count() == 1

    def test_another_visitor_cannot_mark(self):
        visitor, chat, agent = self.setup_chat()
        _agent_says(chat, agent, "hello")
        with pytest.raises(NotFound):
            services.messages_mark(chat_public_id=chat.public_id, visitor_id=VisitorFactory().pk,
                                   delivered_up_to=99, read_up_to=99)


@pytest.mark.django_db
class TestPageViews:
    def record(self, visitor, url="https://shop.example/pricing", title="Pricing"):
        return services.page_view_record(visitor_id=visitor.pk, url=url, title=title)

    @pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://shop.example/", "/pricing", "https://", ""])
    def test_only_http_urls(self, url):
        with pytest.raises(InvalidInput, match="Only http and https"):
            self.record(VisitorFactory(), url=url)
        assert not PageView.objects.exists()

    def test_long_url_and_title_are_cut(self):
        view = self.record(VisitorFactory(), url="https://shop.example/" + "a" * 3000, title="  Big \n " + "t" * 300)
        assert len(view.url) == 2000 and view.url.startswith("https://shop.example/aaa")
        assert len(view.title) == 200 and view.title.startswith("Big ttt")

    def test_the_same_page_again_is_not_recorded_twice(self):
        visitor = VisitorFactory()
        assert self.record(visitor) is not None
        assert self.record(visitor) is None
        assert self.record(visitor, url="https://shop.example/") is not None
        assert PageView.objects.count() == 2

    def test_journey_includes_pages_before_the_chat_and_stops_at_its_end(self):
        visitor = VisitorFactory()
        old = self.record(visitor, url="https://shop.example/old")
        PageView.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
        before = self.record(visitor, url="https://shop.example/before")
        chat = start_chat(visitor)
        during = self.record(visitor, url="https://shop.example/during")
        assert during.chat_id == chat.pk and before.chat_id is None
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
        chat.refresh_from_db()
        self.record(visitor, url="https://shop.example/after")
        assert [v.url for v in chat_journey(chat)] == ["https://shop.example/before", "https://shop.example/during"]


# --- Over the sockets -----------------------------------------------------------------------------

pytest_mark_live = pytest.mark.django_db(transaction=True)


async def _chatting(accept=True):
    """A visitor in a chat with an agent who watches it."""
    user = await database_sync_to_async(AgentFactory)(first_name="Alex", last_name="Agent")
    agent, _ = await live.agent(user)
    visitor, welcome = await live.visitor()
    chat = await live.start_chat(visitor)
    if accept:
        await agent.send({"type": "chat.accept", "chat": chat["id"]})
        await agent.expect("chat", **{"chat.status": "active"})
    else:
        await agent.send({"type": "chat.watch", "chat": chat["id"]})
        await agent.expect("resumed")
    return agent, visitor, chat, welcome


@database_sync_to_async
def _message_count() -> int:
    return Message.objects.count()


@pytest_mark_live
async def test_draft_reaches_the_chats_agents_only_and_is_never_stored(layer):
    agent, visitor, chat, welcome = await _chatting()
    assert welcome["typing_preview"] is True
    other_tab, _ = await live.visitor(welcome["token"])
    outsider, _ = await live.agent(await database_sync_to_async(AgentFactory)())
    stored_before = await _message_count()

    await visitor.send({"type": "typing", "chat": chat["id"], "text": "My order numb"})
    draft = await agent.expect("typing")
    assert draft == {"type": "typing", "chat": chat["id"], "text": "My order numb"}
    await visitor.send({"type": "typing", "chat": chat["id"], "text": ""})
    assert (await agent.expect("typing"))["text"] == ""

    for socket in (visitor, other_tab, outsider):
        await socket.drain()
        assert socket.count("typing") == 0
    assert await _message_count() == stored_before
    for socket in (agent, visitor, other_tab, outsider):
        await socket.close()


@pytest_mark_live
async def test_with_preview_off_agents_see_only_that_the_visitor_types(layer):
    await database_sync_to_async(ChatSettings.objects.create)(typing_preview=False)
    await database_sync_to_async(forget_cached_settings)()
    agent, visitor, chat, welcome = await _chatting()
    assert welcome["typing_preview"] is False
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "secret draft"})
    assert (await agent.expect("typing"))["text"] is None
    await visitor.send({"type": "typing", "chat": chat["id"], "text": ""})
    assert (await agent.expect("typing"))["text"] == ""
    assert "secret draft" not in str(agent.seen)
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_bad_drafts_are_refused(layer):
    agent, visitor, chat, _ = await _chatting()
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "x" * 5001})
    assert (await visitor.expect("error"))["code"] == "invalid"
    await visitor.send({"type": "typing", "chat": "SOMEONES", "text": "hi"})
    assert (await visitor.expect("error"))["code"] == "not_found"
    await agent.drain()
    assert agent.count("typing") == 0
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_a_burst_of_drafts_does_not_delay_the_message_behind_it(layer):
    """300 keystroke frames, then the message: drafts are coalesced (latest wins) and the pending one
    is dropped when the message is sent, so the agent gets the message after at most a few drafts,
    not after 300 of them."""
    agent, visitor, chat, _ = await _chatting()
    for i in range(300):
        await visitor.send({"type": "typing", "chat": chat["id"], "text": "x" * (i + 1)})
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "real", "text": "the real one"})
    await agent.expect_message(client_id="real")
    drafts_before = sum(1 for f in agent.seen if f["type"] == "typing")
    assert drafts_before <= 3, f"{drafts_before} drafts went out before the message"
    await agent.drain(0.6)
    assert agent.count("typing") <= 3, "the draft pending when the message went is not sent after it"
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_agent_typing_reaches_the_visitor_without_text(layer):
    agent, visitor, chat, _ = await _chatting()
    await agent.send({"type": "typing", "chat": chat["id"], "active": True})
    assert await visitor.expect("agent.typing") == {
        "type": "agent.typing", "chat": chat["id"], "active": True, "agent_name": "Alex Agent",
    }
    await agent.send({"type": "typing", "chat": "NOTMINE1", "active": True})
    assert (await agent.expect("error"))["code"] == "not_found"
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_read_receipt_is_stored_once_and_sent_again_after_reconnect(layer):
    agent, visitor, chat, _ = await _chatting()
    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "a1", "text": "How can I help?"})
    seq = (await visitor.expect_message(client_id="a1"))["seq"]

    await visitor.send({"type": "receipt", "chat": chat["id"], "delivered_up_to": seq})
    delivered = await agent.expect("receipt")
    assert delivered["messages"][0]["seq"] == seq and delivered["messages"][0]["read_at"] is None
    await visitor.send({"type": "receipt", "chat": chat["id"], "delivered_up_to": seq, "read_up_to": seq})
    read = await agent.expect("receipt", seq=delivered["seq"] + 1)
    read_at = read["messages"][0]["read_at"]
    assert read_at

    await visitor.send({"type": "receipt", "chat": chat["id"], "read_up_to": seq})
    await visitor.send({"type": "ping"})
    await visitor.expect("pong")
    await agent.drain()
    assert agent.count("receipt") == 2, "a receipt that changes nothing is not sent"
    stored = await database_sync_to_async(Message.objects.get)(chat__public_id=chat["id"], seq=seq)
    assert stored.read_at.isoformat() == read_at

    # The console reconnects having seen the message but not the receipts: resume resends them.
    await agent.close()
    user = await database_sync_to_async(lambda: stored.author_agent)()
    again, _ = await live.agent(user)
    await again.send({"type": "chat.watch", "chat": chat["id"], "after_seq": seq})
    resent = await again.expect("receipt")
    assert resent["messages"] == [{"seq": seq, "delivered_at": stored.delivered_at.isoformat(), "read_at": read_at}]
    assert (await again.expect("resumed"))["last_seq"] == read["seq"]
    # A console reloaded from scratch gets the read time on the message itself.
    await again.send({"type": "chat.watch", "chat": chat["id"], "after_seq": 0})
    assert (await again.expect_message(seq=seq))["read_at"] == read_at
    await again.close()
    await visitor.close()


@pytest_mark_live
async def test_page_view_is_stored_and_reaches_the_console(layer):
    user = await database_sync_to_async(AgentFactory)()
    visitor, _ = await live.visitor()
    await visitor.send({"type": "page.view", "url": "https://shop.example/", "title": "Home"})
    chat = await live.start_chat(visitor)
    agent, _ = await live.agent(user)
    await agent.send({"type": "chat.watch", "chat": chat["id"]})
    journey = await agent.expect("pages")
    assert [v["url"] for v in journey["views"]] == ["https://shop.example/"], "pages before the chat are shown"

    await visitor.send({"type": "page.view", "url": "https://shop.example/pricing", "title": "Pricing"})
    live_view = await agent.expect("page.view")
    assert live_view["chat"] == chat["id"]
    assert live_view["view"]["url"] == "https://shop.example/pricing" and live_view["view"]["title"] == "Pricing"
    views = await database_sync_to_async(lambda: list(PageView.objects.values_list("url", "chat__public_id")))()
    assert views == [("https://shop.example/", None), ("https://shop.example/pricing", chat["id"])]

    await visitor.send({"type": "page.view", "url": "javascript:alert(document.cookie)", "title": "x"})
    error = await visitor.expect("error")
    assert error["code"] == "invalid" and error["frame"] == "page.view", "the error names the refused frame"
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_a_flood_of_page_views_is_refused_with_an_error(layer):
    """The default limit per visitor (chat/limits.py; every limit has its row in tests/test_limits.py)."""
    per_visitor = limits.BY_NAME["page_view.visitor"].limit
    visitor, _ = await live.visitor()
    for i in range(per_visitor + 1):
        await visitor.send({"type": "page.view", "url": f"https://shop.example/{i}"})
    error = await visitor.expect("error")
    assert error["code"] == "rate_limited" and error["frame"] == "page.view" and error["retry_after"] >= 1
    count = await database_sync_to_async(PageView.objects.count)()
    assert count == per_visitor
    await visitor.close()


# --- Typing goes through the services' checks ------------------------------------------------------


@pytest_mark_live
async def test_only_the_agent_answering_the_chat_is_shown_typing(layer):
    agent, visitor, chat, _ = await _chatting()
    watcher, _ = await live.agent(await database_sync_to_async(AgentFactory)(first_name="Other"))
    await watcher.send({"type": "chat.watch", "chat": chat["id"]})
    await watcher.expect("resumed")
    await watcher.send({"type": "typing", "chat": chat["id"], "active": True})
    refused = await watcher.expect("error")
    assert refused["code"] == "forbidden" and refused["frame"] == "typing"
    # A marker from the right agent: the watcher's typing, had it gone out, would have come first.
    await agent.send({"type": "typing", "chat": chat["id"], "active": True})
    shown = await visitor.expect("agent.typing")
    assert shown["agent_name"] == "Alex Agent"
    assert visitor.count("agent.typing") == 1
    await watcher.close()
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_no_typing_is_forwarded_after_the_chat_ended(layer):
    agent, visitor, chat, _ = await _chatting()
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "before the end"})
    assert (await agent.expect("typing"))["text"] == "before the end"
    await agent.send({"type": "chat.end", "chat": chat["id"]})
    await visitor.expect("chat", **{"chat.status": "ended"})
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "after the end"})
    assert (await visitor.expect("error"))["code"] == "chat_ended"
    await agent.send({"type": "typing", "chat": chat["id"], "active": True})
    assert (await agent.expect("error"))["code"] == "chat_ended"
    await visitor.send({"type": "ping"})
    await visitor.expect("pong")
    await agent.send({"type": "ping"})
    await agent.expect("pong")
    assert "after the end" not in str(agent.seen)
    assert visitor.count("agent.typing") == 0
    await agent.close()
    await visitor.close()


@pytest_mark_live
async def test_turning_the_preview_off_reaches_connected_widgets_within_seconds(layer):
    await database_sync_to_async(forget_cached_settings)()  # a run before this one may have turned it off
    agent, visitor, chat, welcome = await _chatting()
    assert welcome["typing_preview"] is True
    await visitor.send({"type": "typing", "chat": chat["id"], "text": "visible draft"})
    assert (await agent.expect("typing"))["text"] == "visible draft"

    def admin_turns_it_off():
        ChatSettings.objects.update_or_create(pk=1, defaults={"typing_preview": False})
        services.chat_settings_changed()

    await database_sync_to_async(admin_turns_it_off)()
    assert await visitor.expect("settings") == {"type": "settings", "typing_preview": False}
    # The widget is told; and a client that goes on sending text has it withheld within seconds.
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        await visitor.send({"type": "typing", "chat": chat["id"], "text": "secret draft"})
        draft = await agent.expect("typing")
        if draft["text"] is None:
            break
        assert asyncio.get_running_loop().time() < deadline, "drafts still carried their text"
        await asyncio.sleep(0.3)  # the widget's pace of drafts
    await agent.close()
    await visitor.close()
