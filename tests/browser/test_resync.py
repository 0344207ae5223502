"""Live delivery is at-most-once: an event lost while both sockets stay connected still reaches the
widget and the console, by their periodic resync (CHAT_RESYNC_SECONDS, 2 in the test server)."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from chat import services
from chat.models import Chat
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOON = 8_000  # ms: a few resync intervals


def post_unheard(chat, actor, client_id, text):
    """Store a message without a live event reaching anyone: this process's channel layer is the
    in-memory one, nowhere near the server's Redis (here the broadcast does not even go out, since
    Playwright's event loop runs in this thread; Django logs that and the message stays stored)."""
    services.message_post(chat_public_id=chat.public_id, actor=actor, client_id=client_id, text=text)


def test_a_message_whose_live_event_was_lost_shows_on_both_sides(helpdesk, host_site, new_page, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello, anyone there?")
    panel = accept(console)
    panel.get_by_test_id("reply-input").fill("Hi Sam, how can I help?")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(acked(widget, "agent")).to_have_count(1)

    # The visitor moves to another page during the chat: one note in the timeline.
    visitor.goto(host_site.url + "/pricing")
    widget = visitor.frame_locator("#hd-frame")
    expect(acked(widget, "agent")).to_have_count(1)
    expect(panel.get_by_test_id("page-view")).to_have_count(1)
    pages_before = panel.get_by_test_id("pages-item").count()

    chat = Chat.objects.get()
    agent = get_user_model().objects.get(username=agent_login[0])

    # The agent starts a draft; resyncs must not take it, or the focus, away.
    box = panel.get_by_test_id("reply-input")
    box.click()
    box.press_sequentially("Let me check")

    post_unheard(chat, services.Actor.for_agent(agent), "unheard-agent-1", "Your order shipped today.")
    expect(acked(widget, "agent")).to_have_count(2, timeout=SOON)
    expect(acked(widget, "agent").nth(1)).to_contain_text("Your order shipped today.")
    expect(acked(panel, "agent")).to_have_count(2, timeout=SOON)

    post_unheard(chat, services.Actor.for_visitor(chat.visitor_id), "unheard-visitor-1", "Great, thank you!")
    expect(acked(panel, "visitor")).to_have_count(2, timeout=SOON)
    expect(acked(panel, "visitor").nth(1)).to_contain_text("Great, thank you!")
    expect(acked(widget, "visitor")).to_have_count(2, timeout=SOON)

    # Several resyncs later: nothing twice, and the agent is still where they were typing.
    console.wait_for_timeout(5_000)
    expect(acked(panel, "agent")).to_have_count(2)
    expect(acked(panel, "visitor")).to_have_count(2)
    expect(acked(widget, "agent")).to_have_count(2)
    expect(panel.get_by_test_id("page-view")).to_have_count(1)
    expect(panel.get_by_test_id("pages-item")).to_have_count(pages_before)
    expect(box).to_be_focused()
    expect(box).to_have_value("Let me check")
