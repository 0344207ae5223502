"""The widget after a chat, as a visitor has it: the chat ends (by the agent, or by itself while the
visitor was gone), the visitor rates it, changes their mind, asks for the transcript by email and
sees where it went; and, during a chat, the agent sees the visitor "away" while the website is in a
background tab."""

import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import presence
from chat.models import Chat, Visitor
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import acked, open_widget, start_chat
from tickets.models import Ticket, TranscriptEmail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "The first answer took a while."


def wait_until(condition, what: str, timeout: float = 10.0):
    """Poll ``condition`` (the database, a file) until it holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


class Agent:
    """The agent's side, as the protocol has it: a socket of the logged-in agent, opened from a page of
    the helpdesk that is not the console (whose parts other tests drive), recording every frame."""

    OPEN = """() => new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws/agent/`);
        window.agent = {ws, frames: []};
        ws.onmessage = (event) => {
            const frame = JSON.parse(event.data);
            window.agent.frames.push(frame);
            if (frame.type === "welcome") resolve();
        };
        ws.onclose = (event) => reject(new Error(`the agent socket closed: ${event.code}`));
    })"""

    def __init__(self, new_page, helpdesk, login):
        self.helpdesk = helpdesk
        self.page = new_page()
        self.page.goto(f"{helpdesk.url}/console/")
        self.page.get_by_label("Username").fill(login[0])
        self.page.get_by_label("Password").fill(login[1])
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{helpdesk.url}/console/")
        self.page.goto(f"{helpdesk.url}/console/tickets/")
        self.page.evaluate(self.OPEN)

    def send(self, frame: dict) -> None:
        self.page.evaluate("(frame) => window.agent.ws.send(JSON.stringify(frame))", frame)

    def forget(self) -> None:
        """Forget the frames received so far: wait_for then sees only what comes after."""
        self.page.evaluate("() => { window.agent.frames = []; }")

    def wait_for(self, predicate: str, arg=None) -> None:
        """Until a frame received matches ``predicate``, JavaScript of (frame, arg)."""
        self.page.wait_for_function(f"(arg) => window.agent.frames.some((frame) => ({predicate})(frame, arg))", arg=arg)

    def wait_for_chat(self, chat: str, status: str) -> None:
        self.wait_for("(f, [chat, status]) => f.type === 'chat' && f.chat.id === chat && f.chat.status === status",
                      [chat, status])


def test_the_visitor_rates_the_ended_chat_and_gets_the_transcript(helpdesk, host_site, new_page, agent_login,
                                                                   tmp_path):
    agent = Agent(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Where is my parcel?")
    expect(acked(widget, "visitor")).to_have_count(1)
    chat = Chat.objects.get().public_id
    agent.send({"type": "chat.accept", "chat": chat})
    agent.wait_for_chat(chat, "active")
    expect(widget.get_by_test_id("chat-status")).to_have_text("Alex Agent")

    # End chat asks first; "Keep chatting" keeps it.
    widget.get_by_test_id("end-chat").click()
    expect(widget.get_by_test_id("end-chat-confirm-bar")).to_contain_text("End this chat?")
    widget.get_by_test_id("end-chat-cancel").click()
    expect(widget.get_by_test_id("end-chat-confirm-bar")).to_be_hidden()
    expect(widget.get_by_test_id("reply-input")).to_be_visible()
    widget.get_by_test_id("reply-input").focus()

    # The agent ends it: the widget says so, and asks how it was.
    agent.send({"type": "chat.end", "chat": chat})
    ended = widget.get_by_test_id("chat-ended")
    expect(ended.get_by_role("heading", name="This chat has ended")).to_be_visible()
    expect(ended.get_by_role("heading", name="This chat has ended")).to_be_focused()  # it was in the reply box
    expect(widget.get_by_test_id("reply-input")).to_be_hidden()
    rating = widget.get_by_role("group", name="How was this chat?")
    good, bad = rating.get_by_role("button", name="Good"), rating.get_by_role("button", name="Bad")
    expect(good).to_have_attribute("aria-pressed", "false")
    expect(bad).to_have_attribute("aria-pressed", "false")
    expect(widget.get_by_test_id("rating-form")).to_be_hidden()
    expect(widget.get_by_test_id("transcript-status")).to_contain_text("Didn't get one?")
    visitor.screenshot(path=tmp_path / "widget-after-chat.png")

    # Bad, then a comment, counted as it is typed.
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    status = widget.get_by_test_id("rating-status")
    expect(status).to_have_text("Thanks for your feedback.")
    ticket = Ticket.objects.get()
    assert (ticket.rating, ticket.rating_comment) == ("bad", "")
    box = widget.get_by_label("Tell us more (optional)")
    expect(box).to_be_visible()
    expect(widget.get_by_test_id("rating-count")).to_have_text("0 / 1,000")
    assert box.get_attribute("maxlength") == "1000"
    box.fill(COMMENT)
    expect(widget.get_by_test_id("rating-count")).to_have_text(f"{len(COMMENT)} / 1,000")
    visitor.screenshot(path=tmp_path / "widget-rating-comment.png")
    widget.get_by_test_id("rating-send").click()
    wait_until(lambda: Ticket.objects.filter(rating_comment=COMMENT).exists(), "the comment stored")
    expect(status).to_have_text("Thanks for your feedback.")

    # The visitor changes their mind: good, with the comment still in the box.
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(bad).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: Ticket.objects.filter(rating="good").exists(), "the rating changed to good")
    expect(status).to_have_text("Thanks for your feedback.")
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == ("good", COMMENT)

    # The transcript by email: the address the server sent it to.
    widget.get_by_role("button", name="Email me the transcript").click()
    expect(widget.get_by_test_id("transcript-status")).to_have_text(
        "The transcript is on its way to sam@example.com.")
    assert TranscriptEmail.objects.filter(reason="visitor", to="sam@example.com").count() == 1
    expect(widget.get_by_test_id("transcript-error")).to_be_hidden()
    visitor.screenshot(path=tmp_path / "widget-thanks-transcript.png")

    # The agent was told, and the ticket's page shows the rating and the comment.
    agent.wait_for("(f, text) => f.type === 'chat.rated' && f.rating === 'good' && f.comment === text", COMMENT)
    agent.page.goto(f"{helpdesk.url}/console/tickets/{ticket.ref}/")
    expect(agent.page.get_by_test_id("rating")).to_have_text("Good")
    expect(agent.page.get_by_test_id("rating-comment")).to_have_text(COMMENT)

    # Back later: the ended chat shows what the visitor said and where the transcript went.
    visitor.reload()
    widget = visitor.frame_locator("#hd-frame")
    expect(widget.get_by_role("button", name="Good")).to_have_attribute("aria-pressed", "true")
    expect(widget.get_by_label("Tell us more (optional)")).to_have_value(COMMENT)
    expect(widget.get_by_test_id("transcript-status")).to_contain_text("sam@example.com")

    # Asked too often, the server says so in words a person reads; nothing else changes.
    again = widget.get_by_test_id("transcript-request")
    expect(again).to_have_text("Email it again")
    error = widget.get_by_test_id("transcript-error")
    for _ in range(6):
        again.click()
        expect(again).not_to_have_attribute("aria-disabled", "true")
        if error.is_visible():
            break
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(widget.get_by_test_id("transcript-status")).to_contain_text("sam@example.com")

    # Rated too often, likewise: the thumbs show what the server has.
    rating_error = widget.get_by_test_id("rating-error")
    good, bad = widget.get_by_role("button", name="Good"), widget.get_by_role("button", name="Bad")
    for i in range(12):
        (bad if i % 2 == 0 else good).click()
        expect(widget.get_by_test_id("rating-status")).not_to_have_text("Sending…")
        if rating_error.is_visible():
            break
    expect(rating_error).to_be_visible()
    expect(rating_error).not_to_be_empty()
    ticket.refresh_from_db()
    shown = good if ticket.rating == "good" else bad
    expect(shown).to_have_attribute("aria-pressed", "true")

    # A new chat is one click away.
    widget.get_by_test_id("new-chat").click()
    expect(widget.get_by_test_id("prechat-name")).to_have_value("Sam Visitor")


def test_a_chat_that_ended_while_the_visitor_was_gone_shows_ended_when_they_come_back(helpdesk, host_site,
                                                                                      new_page):
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "I'll be right back")
    expect(acked(widget, "visitor")).to_have_count(1)

    # The visitor leaves the site; the chat ends by itself after the admin's "visitor gone" time.
    visitor.goto("about:blank")
    wait_until(lambda: Visitor.objects.filter(sockets_open=0).exists(), "the widget's socket closed")
    assert presence.chats_end_gone_visitors(now=timezone.now() + timedelta(minutes=11)) == 1
    assert Chat.objects.get().status == "ended"

    visitor.goto(host_site.url + "/")
    widget = visitor.frame_locator("#hd-frame")
    ended = widget.get_by_test_id("chat-ended")
    expect(ended.get_by_role("heading", name="This chat has ended")).to_be_visible()
    expect(widget.get_by_test_id("message-list")).to_contain_text("left 11 minutes ago")
    widget.get_by_role("button", name="Good").click()
    expect(widget.get_by_test_id("rating-status")).to_have_text("Thanks for your feedback.")
    assert Ticket.objects.get().rating == "good"


@pytest.fixture
def tabs(browser, tmp_path):
    """Pages that are tabs of one browser window, as a person has them: bringing one to the front puts
    the others in the background (``document.visibilityState`` "hidden", in their iframes too).
    Playwright's own pages never go to the background, even headless: it emulates focus on each, which
    keeps it visible. So this Chromium is started here and driven over CDP without those defaults."""
    profile = tmp_path / "tabs-profile"
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", *CHROMIUM_ARGS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and len(port_file.read_text().split()) >= 2, "Chromium's DevTools port")
        port = int(port_file.read_text().split()[0])
        cdp = browser.browser_type.connect_over_cdp(f"http://127.0.0.1:{port}", no_defaults=True)
        context = cdp.contexts[0]
        context.set_default_timeout(10_000)
        yield context
        cdp.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_the_agent_sees_the_visitor_away_while_the_site_is_in_a_background_tab(helpdesk, host_site, new_page,
                                                                              agent_login, tabs):
    agent = Agent(new_page, helpdesk, agent_login)
    site = tabs.pages[0] if tabs.pages else tabs.new_page()
    site.goto(host_site.url + "/")
    site.get_by_role("button", name="Chat with us").click()
    widget = site.frame_locator("#hd-frame")
    start_chat(widget, "Let me check something on another tab")
    expect(acked(widget, "visitor")).to_have_count(1)
    chat = Chat.objects.get().public_id
    agent.send({"type": "chat.watch", "chat": chat, "after_seq": 0})
    agent.wait_for("(f, chat) => f.type === 'resumed' && f.chat === chat", chat)
    presence_is = "(f, [chat, state]) => f.type === 'presence' && f.chat === chat && f.state === state"

    # The visitor puts the chat away: on a page in front, that is no background tab.
    widget.get_by_test_id("widget-close").click()
    expect(site.get_by_role("button", name="Chat with us")).to_have_attribute("aria-expanded", "false")
    frame = site.locator("#hd-frame").element_handle().content_frame()
    assert frame.evaluate("document.visibilityState") == "visible"

    # Another tab in front: the site (and the widget in it) is in the background; the agent is told.
    other = tabs.new_page()
    other.bring_to_front()
    assert site.evaluate("document.visibilityState") == "hidden"
    assert frame.evaluate("document.visibilityState") == "hidden"
    agent.wait_for(presence_is, [chat, "away"])
    assert Visitor.objects.get().sockets_hidden == 1

    # Back to the site's tab: online again.
    agent.forget()
    site.bring_to_front()
    assert site.evaluate("document.visibilityState") == "visible"
    agent.wait_for(presence_is, [chat, "online"])
    assert Visitor.objects.get().sockets_hidden == 0
