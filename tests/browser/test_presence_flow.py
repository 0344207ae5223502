"""Presence as people see it: the visitor's draft in the console before it is sent, "is typing…" in the
widget, receipt ticks on the agent's messages, and the pages the visitor views on the website."""

import re

import pytest
from playwright.sync_api import expect

from chat.models import Message
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GREY = "rgb(102, 112, 133)"  # --hd-muted
BLUE = "rgb(22, 119, 255)"  # --hd-read
# The console in a known locale and time zone, so the "read at" it shows can be checked to the second.
CONSOLE_CONTEXT = {"locale": "en-GB", "timezone_id": "UTC"}


def colour(locator):
    return locator.evaluate("e => getComputedStyle(e).color")


def timeline(panel):
    """What the conversation shows, in order: ("message", author) or ("page-view", text)."""
    items = panel.get_by_test_id("message-list").locator(":scope > li")
    return [
        ("page-view", item.inner_text()) if item.get_attribute("data-testid") == "page-view"
        else ("message", item.get_attribute("data-author"))
        for item in items.all()
    ]


def test_agent_sees_the_draft_live_and_the_visitor_sees_the_agent_typing(helpdesk, host_site, new_page,
                                                                         agent_login):  # noqa: F811
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hi, a question about my order.")
    panel = accept(console)

    # The visitor is told, next to the reply box, that agents may see what they type.
    expect(widget.get_by_test_id("typing-preview-notice")).to_be_visible()
    expect(widget.get_by_test_id("typing-preview-notice")).to_contain_text("see your message as you type")

    # What the visitor types shows in the console before it is sent, marked as not sent.
    box = widget.get_by_test_id("reply-input")
    box.press_sequentially("My order number is 4711", delay=25)
    preview = panel.get_by_test_id("typing-preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Sam Visitor is typing:")
    expect(preview).to_contain_text("not sent yet")
    expect(panel.get_by_test_id("typing-preview-text")).to_have_text("My order number is 4711")
    expect(acked(panel, "visitor")).to_have_count(1)

    # Sent: it is a message now, and the preview is gone.
    box.press("Enter")
    expect(acked(panel, "visitor")).to_have_count(2)
    expect(acked(panel, "visitor").nth(1)).to_contain_text("My order number is 4711")
    expect(preview).to_be_hidden()

    # A draft the visitor deletes disappears too.
    box.press_sequentially("Actually", delay=25)
    expect(panel.get_by_test_id("typing-preview-text")).to_have_text("Actually")
    box.fill("")
    expect(preview).to_be_hidden()

    # And one left alone goes after a few seconds without keystrokes.
    box.press_sequentially("Hmm", delay=25)
    expect(panel.get_by_test_id("typing-preview-text")).to_have_text("Hmm")
    expect(preview).to_be_hidden(timeout=10_000)

    # The other way round the visitor sees only that the agent types, never the words.
    reply = panel.get_by_test_id("reply-input")
    reply.press_sequentially("Let me look that up", delay=25)
    typing = widget.get_by_test_id("agent-typing")
    expect(typing).to_have_text("Alex Agent is typing…")
    expect(widget.get_by_test_id("chat-view")).not_to_contain_text("Let me look that up")
    reply.press("Enter")
    expect(acked(widget, "agent")).to_contain_text("Let me look that up")
    expect(typing).to_be_empty()


def test_ticks_turn_blue_when_the_visitor_has_read_the_reply(helpdesk, host_site, new_page,
                                                            agent_login):  # noqa: F811
    console = open_console(new_page, helpdesk, agent_login, **CONSOLE_CONTEXT)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Is anyone there?")
    panel = accept(console)

    # The visitor puts the chat away; the agent's replies still reach the widget, unread.
    widget.get_by_test_id("widget-close").click()
    launcher = visitor.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    box = panel.get_by_test_id("reply-input")
    box.fill("Yes, I'm here.")
    box.press("Enter")
    ticks = acked(panel, "agent").get_by_test_id("receipt")
    expect(ticks).to_have_count(1)
    expect(ticks.first).to_have_attribute("data-state", "delivered")
    expect(ticks.first).to_have_text("✓")
    assert colour(ticks.first) == GREY
    expect(ticks.first).to_have_attribute("title", re.compile(r"^Delivered .*, not read yet$"))
    expect(visitor.locator("#hd-badge")).to_have_text("1")

    box.fill("How can I help?")
    box.press("Enter")
    expect(ticks).to_have_count(2)
    expect(ticks.nth(1)).to_have_attribute("data-state", "delivered")
    expect(visitor.locator("#hd-badge")).to_have_text("2")
    # Delivered, both still unread: the closed chat showed them to no one.
    expect(ticks.first).to_have_attribute("data-state", "delivered")

    # The visitor opens the chat and has the replies in front of them: blue double ticks.
    launcher.click()
    expect(acked(widget, "agent")).to_have_count(2)
    for tick in (ticks.first, ticks.nth(1)):
        expect(tick).to_have_attribute("data-state", "read")
        expect(tick).to_have_text("✓✓")
    assert colour(ticks.first) == BLUE

    # Hovering the ticks says when they were read, to the second, in the agent's time zone.
    read_at = Message.objects.get(author_kind="agent", text="How can I help?").read_at
    assert read_at is not None
    when = (rf"^Read {read_at:%A},? {read_at.day} {read_at:%B} {read_at:%Y}(,| at) "
            rf"{read_at:%H:%M:%S}$")
    ticks.nth(1).hover()
    expect(ticks.nth(1)).to_have_attribute("title", re.compile(when))
    expect(ticks.nth(1)).to_have_attribute("aria-label", re.compile(when))

    # The receipts are kept: a reload of the console shows the same ticks.
    console.reload()
    panel = console.locator("[data-testid=chat-panel]:not([hidden])")
    ticks = acked(panel, "agent").get_by_test_id("receipt")
    expect(ticks).to_have_count(2)
    expect(ticks.first).to_have_attribute("data-state", "read")
    expect(ticks.nth(1)).to_have_attribute("title", re.compile(when))


def test_console_shows_the_pages_the_visitor_views(helpdesk, host_site, new_page, agent_login):  # noqa: F811
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)  # on the home page, before any chat
    start_chat(widget, "Which plan do I need?")
    panel = accept(console)

    # The side pane lists the page the visitor was on before the chat, with its time.
    panel.get_by_test_id("side-tab-pages").click()
    pages = panel.get_by_test_id("pages-item")
    expect(pages).to_have_count(1)
    expect(pages.first).to_contain_text("Home - Host Shop")
    expect(pages.first).to_contain_text(f"{host_site.url}/")
    expect(pages.first).to_contain_text("before chat")
    expect(pages.first.get_by_test_id("pages-item-time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
    views = panel.get_by_test_id("page-view")
    expect(views).to_have_count(0)

    # A plain navigation to another page of the site: a notice in the conversation and a new row.
    visitor.get_by_role("link", name="Pricing").click()
    visitor.wait_for_url(f"{host_site.url}/pricing")
    expect(views).to_have_count(1)
    expect(views.first).to_contain_text(f"Viewing: Pricing - Host Shop — {host_site.url}/pricing")
    expect(pages).to_have_count(2)

    # A single-page app navigates without loading a page, and sets the title a moment later.
    visitor.evaluate("""() => {
        history.pushState({}, "", "/pricing/enterprise");
        setTimeout(() => { document.title = "Enterprise <b>plan</b> - Host Shop"; }, 100);
    }""")
    expect(views).to_have_count(2)
    enterprise = f"{host_site.url}/pricing/enterprise"
    expect(views.nth(1)).to_contain_text(f"Viewing: Enterprise <b>plan</b> - Host Shop — {enterprise}")
    expect(views.nth(1).locator("b")).to_have_count(0)  # a title is text, never markup
    expect(pages).to_have_count(3)
    expect(pages.nth(2)).to_contain_text("Enterprise <b>plan</b> - Host Shop")
    for row in pages.all():
        expect(row.get_by_test_id("pages-item-time")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
    link = views.nth(1).get_by_role("link")
    expect(link).to_have_attribute("href", enterprise)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")

    # Page views sit among the messages by time: the next message comes after them.
    widget = visitor.frame_locator("#hd-frame")
    widget.get_by_test_id("reply-input").fill("The enterprise one looks right.")
    widget.get_by_test_id("reply-input").press("Enter")
    expect(acked(panel, "visitor")).to_have_count(2)
    expected = [("message", "visitor"), ("message", "system"), ("page-view", "Pricing"),
                ("page-view", "Enterprise"), ("message", "visitor")]

    def shape(items):
        return [(kind, what if kind == "message" else next(w for w in ("Pricing", "Enterprise") if w in what))
                for kind, what in items]

    assert shape(timeline(panel)) == expected

    # After a reload the console rebuilds the same timeline and list from the server.
    console.reload()
    panel = console.locator("[data-testid=chat-panel]:not([hidden])")
    expect(acked(panel, "visitor")).to_have_count(2)
    expect(panel.get_by_test_id("pages-item")).to_have_count(3)
    expect(panel.get_by_test_id("page-view")).to_have_count(2)
    assert shape(timeline(panel)) == expected


def test_with_the_preview_off_agents_see_only_that_the_visitor_types(helpdesk, host_site, new_page,
                                                                    agent_login, django_user_model):  # noqa: F811
    # An admin turns the typing preview off in Django admin.
    django_user_model.objects.filter(username=agent_login[0]).update(is_staff=True, is_superuser=True)
    console = open_console(new_page, helpdesk, agent_login)
    set_typing_preview(console, helpdesk, on=False)

    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Quick question")
    panel = accept(console)
    expect(widget.get_by_test_id("reply-input")).to_be_visible()
    expect(widget.get_by_test_id("typing-preview-notice")).to_be_hidden()

    widget.get_by_test_id("reply-input").press_sequentially("my secret draft", delay=25)
    preview = panel.get_by_test_id("typing-preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Sam Visitor is typing…")
    expect(panel.get_by_test_id("typing-preview-text")).to_be_hidden()
    expect(panel).not_to_contain_text("secret")
    widget.get_by_test_id("reply-input").fill("")
    expect(preview).to_be_hidden()

    # Back on (the setting is cached per server process for a few seconds: the admin clears it).
    set_typing_preview(console, helpdesk, on=True)


def set_typing_preview(page, helpdesk, *, on: bool):
    page.goto(f"{helpdesk.url}/admin/chat/chatsettings/")
    box = page.get_by_label("Typing preview")
    if on:
        box.check()
    else:
        box.uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    page.goto(f"{helpdesk.url}/console/")
    expect(page.get_by_test_id("connection-status")).to_have_text("Online")
