"""A whole chat as people have it: the widget on a website of another origin, the console in
another browser, both driven in Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser.pages import accept, acked, bubble_colour, open_console, open_widget, start_chat
from tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GREY = "rgb(233, 233, 235)"
YELLOW = "rgb(255, 230, 128)"


def test_whole_chat_between_a_website_and_the_console(helpdesk, host_site, new_page, agent_login):
    DepartmentFactory(name="Sales")
    DepartmentFactory(name="Support")
    console = open_console(new_page, helpdesk, agent_login)
    expect(console.get_by_test_id("queue-item")).to_have_count(0)

    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "My Widget Pro squeaks. Can you help?", department="Support")
    expect(acked(widget, "visitor")).to_have_count(1)
    expect(widget.get_by_test_id("chat-status")).to_have_text("Waiting for an agent…")

    # The chat appears in the queue live; the agent accepts it and sees the visitor's details.
    item = console.get_by_test_id("queue-item").filter(has_text="Sam Visitor")
    expect(item).to_contain_text("Support")
    expect(console).to_have_title("(1) waiting — Console")
    panel = accept(console)
    expect(panel.get_by_test_id("chat-visitor-email")).to_have_text("sam@example.com")
    expect(panel.get_by_test_id("chat-ticket")).to_contain_text("HD-")
    expect(console.get_by_test_id("queue-item")).to_have_count(0)
    expect(panel.get_by_test_id("message-list")).to_contain_text("Alex Agent joined the chat.")
    expect(widget.get_by_test_id("chat-status")).to_have_text("Alex Agent")

    # Agent replies with Markdown and Enter: the visitor sees it formatted, in yellow.
    panel.get_by_test_id("reply-input").fill("Hello Sam! Does it squeak **all the time**?")
    panel.get_by_test_id("reply-input").press("Enter")
    reply = acked(widget, "agent")
    expect(reply).to_have_count(1)
    expect(reply.locator("strong")).to_have_text("all the time")
    assert bubble_colour(reply) == YELLOW

    # Visitor answers over two lines (Shift+Enter) and with the Send button.
    box = widget.get_by_test_id("reply-input")
    box.fill("Only when it starts.")
    box.press("Shift+Enter")
    box.press_sequentially("And louder in the cold.")
    box.press("Enter")
    expect(acked(panel, "visitor")).to_have_count(2)
    second = acked(panel, "visitor").nth(1)
    expect(second).to_contain_text("Only when it starts.")
    expect(second.locator("br")).to_have_count(1)
    assert bubble_colour(second) == GREY
    assert bubble_colour(acked(panel, "agent")) == YELLOW
    box.fill("<b>not bold</b>")
    widget.get_by_test_id("send-button").click()
    expect(acked(panel, "visitor").nth(2)).to_contain_text("<b>not bold</b>")
    expect(acked(panel, "visitor").nth(2).locator("b")).to_have_count(0)

    # A reload of the host page keeps the chat: the token lives in the iframe's storage.
    visitor.reload()
    widget = visitor.frame_locator("#hd-frame")
    expect(acked(widget, "agent")).to_have_count(1)
    expect(acked(widget, "visitor")).to_have_count(3)

    # The agent ends the chat; both sides see it ended.
    panel.get_by_test_id("end-button").click()
    panel.get_by_test_id("end-confirm").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    expect(panel.get_by_test_id("reply-input")).to_be_disabled()
    expect(widget.get_by_test_id("chat-ended")).to_be_visible()

    # And the visitor can start another, with their details filled in.
    widget.get_by_test_id("new-chat").click()
    expect(widget.get_by_test_id("prechat-name")).to_have_value("Sam Visitor")


def test_bad_input_in_the_widget_gets_a_readable_error(helpdesk, host_site, new_page):
    visitor, widget = open_widget(new_page, host_site)
    widget.get_by_test_id("prechat-name").fill("Sam Visitor")
    widget.get_by_test_id("prechat-email").fill("not an email")
    widget.get_by_test_id("prechat-message").fill("hi")
    widget.get_by_test_id("start-chat").click()
    expect(widget.locator(".hd-field__error:visible")).to_contain_text("email")
    widget.get_by_test_id("prechat-email").fill("sam@example.com")
    widget.get_by_test_id("start-chat").click()
    expect(acked(widget, "visitor")).to_have_count(1)

    box = widget.get_by_test_id("reply-input")
    box.fill("   ")
    box.press("Enter")
    expect(widget.get_by_test_id("reply-error")).to_be_visible()
    expect(widget.get_by_test_id("reply-error")).not_to_be_empty()
    assert box.get_attribute("maxlength") == "5000", "the box stops at the server's limit"


def test_messages_typed_while_the_server_is_down_arrive_once_in_order(helpdesk, host_site, new_page, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello?")
    panel = accept(console)

    helpdesk.stop()
    expect(widget.get_by_test_id("connection-banner")).to_be_visible()
    expect(console.get_by_test_id("connection-status")).not_to_have_text("Online")
    box = widget.get_by_test_id("reply-input")
    for text in ("first while offline", "second while offline"):
        box.fill(text)
        box.press("Enter")
    expect(widget.locator("[data-testid=message][data-pending=true]")).to_have_count(2)
    panel.get_by_test_id("reply-input").fill("agent while offline")
    panel.get_by_test_id("reply-input").press("Enter")

    helpdesk.start()
    expect(widget.locator("[data-testid=message][data-pending=true]")).to_have_count(0, timeout=30_000)
    expect(console.get_by_test_id("connection-status")).to_have_text("Online", timeout=30_000)
    visitor_lines = acked(panel, "visitor")
    expect(visitor_lines).to_have_count(3)
    expect(visitor_lines.nth(1)).to_contain_text("first while offline")
    expect(visitor_lines.nth(2)).to_contain_text("second while offline")
    expect(acked(widget, "agent")).to_have_count(1)
    expect(acked(widget, "agent")).to_contain_text("agent while offline")
    # Stored once each, in the order typed.
    from chat.models import Message

    texts = list(Message.objects.filter(author_kind="visitor").order_by("seq").values_list("text", flat=True))
    assert texts == ["Hello?", "first while offline", "second while offline"]
