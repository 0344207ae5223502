"""Blocking as people have it (issue 17): an agent with the right blocks a visitor from the chat's
header, in a dialog that refuses an empty reason in the server's words and warns about IP blocks; the
visitor's widget says it is blocked and offers nothing more; the console notes until when, shows the
chat ended and lists the blocks in the Chat tab; a second browser (another visitor, fresh storage, the
same loopback address) is refused at its first hello, without the pre-chat form. An agent without the
right sees no Block button. axe checks the dialog and the blocked widget."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from blocking.models import Block, BlockSettings
from chat.errors import Blocked
from chat.models import Chat, Visitor
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.browser.test_accessibility import assert_accessible, widget_frame

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOURS = 36  # not the default 24: the dialog says the admin's number, from its page
IP_WARNING = ("Everyone on a shared network — a business, a university, a wi-fi hotspot — would be blocked too, "
              "and home and mobile broadband addresses change, so this may block the wrong people or miss this one.")
EMPTY_REASON = "Say briefly why you block this visitor: the reason is kept with the block."


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where the screenshots go: SCREENSHOT_DIR when set (to look at them), else the test's tmp_path."""
    where = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def may_block(username: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(Permission.objects.get(codename="block_visitor", content_type__app_label="blocking"))


def console_with_hours(new_page, helpdesk, login, hours: int):
    """The console, once its page says the admin's hours (the server caches its settings for a few
    seconds: a page made before the change may still say the old number)."""
    console = open_console(new_page, helpdesk, login)
    body = console.locator("body")
    for _ in range(20):
        if body.get_attribute("data-block-hours") == str(hours):
            break
        console.reload()
        expect(console.get_by_test_id("connection-status")).to_have_text("Online")
    expect(body).to_have_attribute("data-block-hours", str(hours))
    return console


def test_an_agent_blocks_a_visitor_and_their_address(helpdesk, host_site, new_page, agent_login, shots):
    BlockSettings.objects.update_or_create(pk=1, defaults={"duration_hours": HOURS, "ipv6_prefix": 64})
    may_block(agent_login[0])
    console = console_with_hours(new_page, helpdesk, agent_login, HOURS)

    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "You are all useless.")
    expect(acked(widget, "visitor")).to_have_count(1)
    panel = accept(console)
    expect(widget.get_by_test_id("chat-status")).to_have_text("Alex Agent")
    panel.get_by_role("tab", name="Chat").click()
    expect(panel.get_by_test_id("blocks-empty")).to_have_text("Never blocked.")
    expect(panel.get_by_test_id("visitor-ip")).to_have_text("127.0.0.1")

    # The dialog: modal, about this visitor, for the admin's hours; Escape closes it, the focus goes back.
    block_button = panel.get_by_test_id("block-button")
    block_button.click()
    dialog = console.get_by_role("dialog", name="Block Sam Visitor")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason")).to_be_focused()
    expect(dialog).to_contain_text(f"The block lasts {HOURS} hours.")
    expect(dialog).to_contain_text("Their chat ends, and they can't start a new chat or send messages, also with "
                                   "the email address they gave (sam@example.com).")
    console.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(block_button).to_be_focused()
    block_button.click()
    expect(dialog).to_be_visible()

    # No reason: the server refuses it, and the dialog says so in its words.
    dialog.get_by_role("button", name="Block").click()
    expect(dialog.get_by_role("alert")).to_have_text(EMPTY_REASON)
    expect(dialog.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    assert not Block.objects.exists()

    dialog.get_by_label("Reason").fill("Abusive language")
    expect(dialog.get_by_role("alert")).to_be_hidden()
    ip_box = dialog.get_by_label("Also block their IP address (127.0.0.1)")
    expect(ip_box).to_be_enabled()
    ip_box.check()
    expect(dialog.get_by_test_id("block-ip-warning")).to_be_visible()
    expect(dialog.get_by_test_id("block-ip-warning")).to_have_text(IP_WARNING)
    expect(dialog.get_by_test_id("block-ip-note")).to_be_hidden()  # IPv4: no network note
    console.screenshot(path=shots / "console-block-dialog.png")
    assert_accessible("the console's Block dialog", console)

    dialog.get_by_role("button", name="Block").click()
    expect(dialog).to_be_hidden()
    expect(block_button).to_be_focused()
    expect(panel.get_by_test_id("block-notice")).to_contain_text("Blocked until")
    expect(panel.get_by_test_id("block-notice")).to_contain_text("with the IP network 127.0.0.1/32.")
    made = list(Block.objects.order_by("kind"))
    assert [(b.kind, b.value) for b in made] == [("email", "sam@example.com"), ("ip", "127.0.0.1/32"),
                                                  ("visitor", str(Chat.objects.get().visitor_id))]
    assert all(b.expires_at - b.created_at == timedelta(hours=HOURS) for b in made)

    # The visitor: told, politely, in the server's words; no reply box, no paperclip, no End chat.
    blocked = widget.get_by_test_id("widget-blocked")
    expect(blocked).to_be_visible()
    expect(widget.get_by_test_id("blocked-message")).to_have_text(Blocked.MESSAGE)
    expect(widget.get_by_role("heading", name="Chat isn't available")).to_be_visible()
    for hidden in ("reply-input", "attach-button", "end-chat", "prechat-form", "new-chat", "connection-banner"):
        expect(widget.get_by_test_id(hidden)).to_be_hidden()
    visitor.screenshot(path=shots / "widget-blocked.png")
    assert_accessible("the blocked widget", widget_frame(visitor))

    # The console: the chat ended, and the Chat tab lists the three blocks, active.
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    items = panel.get_by_test_id("block-item")
    expect(items).to_have_count(3)
    expect(panel.get_by_test_id("blocks-empty")).to_be_hidden()
    # Made in the same instant: in any order among themselves.
    assert sorted(panel.get_by_test_id("block-kind").all_text_contents()) == [
        "Email sam@example.com", "IP 127.0.0.1/32", "Visitor"]
    for i in range(3):
        expect(items.nth(i)).to_have_attribute("data-state", "active")
        expect(items.nth(i).get_by_test_id("block-state")).to_contain_text("Active until")
        expect(items.nth(i).get_by_test_id("block-reason")).to_have_text("Reason: Abusive language")
        expect(items.nth(i)).to_contain_text("Made by Alex Agent on")
    expect(block_button).to_be_visible()  # an ended chat can still be blocked: it blocks the user
    panel.get_by_test_id("block-list").scroll_into_view_if_needed()
    console.screenshot(path=shots / "console-chat-tab-blocks.png")
    assert_accessible("the console's Chat tab with blocks", console)

    # The blocked visitor comes back (a reload: their token's hello is refused), told the same.
    visitor.reload()
    widget = visitor.frame_locator("#hd-frame")
    expect(widget.get_by_test_id("blocked-message")).to_have_text(Blocked.MESSAGE)
    expect(widget.get_by_test_id("prechat-form")).to_be_hidden()

    # Another visitor, another browser, the same address: refused at the first hello, no form offered,
    # and no new visitor made for them. Its widget does not try again: one socket, closed 4451.
    other = new_page()
    sockets = []
    other.on("websocket", lambda ws: sockets.append(ws))
    other.goto(host_site.url + "/")
    other.get_by_role("button", name="Chat with us").click()
    other_widget = other.frame_locator("#hd-frame")
    expect(other_widget.get_by_test_id("widget-blocked")).to_be_visible()
    expect(other_widget.get_by_test_id("blocked-message")).to_have_text(Blocked.MESSAGE)
    expect(other_widget.get_by_test_id("prechat-form")).to_be_hidden()
    expect(other_widget.get_by_test_id("widget-loading")).to_be_hidden()
    expect(other_widget.get_by_role("heading", name="Chat isn't available")).to_be_focused()
    other.screenshot(path=shots / "widget-blocked-second-visitor.png")
    assert Visitor.objects.count() == 1
    assert_accessible("the blocked widget of a second visitor", widget_frame(other))
    visitor_sockets = [ws for ws in sockets if ws.url.endswith("/ws/visitor/")]
    assert len(visitor_sockets) == 1 and visitor_sockets[0].is_closed()


def test_an_agent_without_the_right_sees_no_block_button(helpdesk, host_site, new_page, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello?")
    panel = accept(console)
    # The header has had this chat with the welcome's rights: its End chat button is there, Block not.
    expect(panel.get_by_test_id("end-button")).to_be_visible()
    expect(panel.get_by_test_id("block-button")).to_be_hidden()
    expect(console.get_by_role("dialog")).to_have_count(0)
