"""The client cursor in the browser (static/chat/core/cursor.js): a hole in the seqs is fetched at
once, not at the next resync, and while the server says live delivery is degraded both pages say so
and resync every few seconds.

The helpdesk of this module resyncs every ten minutes (CHAT_RESYNC_SECONDS=600), so whatever shows
within seconds was fetched by the cursor's own rules, not by the timer."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from chat import services
from chat.models import Chat
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.live_server import LiveHelpdesk, server_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLOW_RESYNC_SECONDS = 600
QUICK = 5_000  # ms: far below the resync interval, above the degraded pace (3 s) and a round trip
SOCKETS = re.compile(r"/ws/(visitor|agent)/$")


@pytest.fixture(scope="module")
def helpdesk(django_db_setup, host_site, tmp_path_factory):
    """The helpdesk for this module's tests: its pages resync every ten minutes. The host site
    embeds it while the module runs."""
    from django.db import connection

    env = server_env(connection.settings_dict, embed_origins=host_site.url)
    env["CHAT_RESYNC_SECONDS"] = str(SLOW_RESYNC_SECONDS)
    server = LiveHelpdesk(env, tmp_path_factory.mktemp("daphne-slow-resync") / "daphne.log")
    server.start()
    before = host_site.state["helpdesk"]
    host_site.state["helpdesk"] = server.url
    yield server
    host_site.state["helpdesk"] = before
    server.stop()


def through_playwright(new_page, sockets):
    """``new_page`` whose live sockets go through Playwright to the server; each is appended to
    ``sockets`` so that the test can add frames of the server's (``route.send``)."""

    def through(route):
        route.connect_to_server()
        sockets.append(route)

    def make(**kwargs):
        page = new_page(**kwargs)
        page.context.route_web_socket(SOCKETS, through)
        return page

    return make


def say_live(routes, state):
    for route in routes:
        route.send(json.dumps({"type": "live", "state": state}))


def texts(scope, author):
    return acked(scope, author).locator(".hd-msg__bubble")


def post_unheard(chat, actor, client_id, text):
    """Stored, and its live event never reaches a socket: this process's channel layer is not the
    server's (see test_resync.py)."""
    services.message_post(chat_public_id=chat.public_id, actor=actor, client_id=client_id, text=text)


def chatting(new_page, helpdesk, host_site, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    slow = str(SLOW_RESYNC_SECONDS * 1000)
    expect(widget.locator("body")).to_have_attribute("data-resync-ms", slow)
    expect(console.locator("body")).to_have_attribute("data-resync-ms", slow)
    start_chat(widget, "Hello, anyone there?")
    panel = accept(console)
    panel.get_by_test_id("reply-input").fill("Hi Sam, one moment.")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(texts(widget, "agent")).to_have_text(["Hi Sam, one moment."])
    return console, panel, visitor, widget


def test_a_lost_event_is_fetched_as_soon_as_a_later_one_shows_the_hole(helpdesk, host_site, new_page, agent_login):
    console, panel, _, widget = chatting(new_page, helpdesk, host_site, agent_login)
    chat = Chat.objects.get()
    agent = get_user_model().objects.get(username=agent_login[0])

    post_unheard(chat, services.Actor.for_agent(agent), "lost-1", "Your order shipped today.")
    # The next message goes live; its seq is one past the lost one: both pages see a hole.
    panel.get_by_test_id("reply-input").fill("Anything else?")
    panel.get_by_test_id("reply-input").press("Enter")

    want = ["Hi Sam, one moment.", "Your order shipped today.", "Anything else?"]
    expect(texts(widget, "agent")).to_have_text(want, timeout=QUICK)
    expect(texts(panel, "agent")).to_have_text(want, timeout=QUICK)
    seqs = acked(widget, "agent").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(seqs) and len(set(seqs)) == 3

    # The visitor's side too: a lost visitor message shows once the next one arrives.
    post_unheard(chat, services.Actor.for_visitor(chat.visitor_id), "lost-2", "Great, thanks!")
    widget.get_by_test_id("reply-input").fill("One more question.")
    widget.get_by_test_id("reply-input").press("Enter")
    expect(texts(panel, "visitor")).to_have_text(
        ["Hello, anyone there?", "Great, thanks!", "One more question."], timeout=QUICK
    )
    expect(texts(widget, "visitor")).to_have_text(
        ["Hello, anyone there?", "Great, thanks!", "One more question."], timeout=QUICK
    )
    expect(console.get_by_test_id("live-notice")).to_be_hidden()


def test_degraded_live_delivery_is_shown_and_resynced_every_few_seconds(
    helpdesk, host_site, new_page, agent_login, tmp_path
):
    sockets = []
    console, panel, visitor, widget = chatting(through_playwright(new_page, sockets), helpdesk, host_site,
                                               agent_login)
    assert len(sockets) == 2, sockets

    say_live(sockets, "degraded")
    notice = "Live updates are delayed; messages are still saved"
    expect(widget.get_by_test_id("live-notice")).to_contain_text(notice)
    expect(console.get_by_test_id("live-notice")).to_contain_text(notice)
    visitor.screenshot(path=tmp_path / "degraded-widget.png")
    console.screenshot(path=tmp_path / "degraded-console.png")

    # Nothing goes live, yet both pages show it within a few seconds: the degraded pace.
    chat = Chat.objects.get()
    agent = get_user_model().objects.get(username=agent_login[0])
    post_unheard(chat, services.Actor.for_agent(agent), "unheard-1", "Still here, checking.")
    want = ["Hi Sam, one moment.", "Still here, checking."]
    expect(texts(widget, "agent")).to_have_text(want, timeout=QUICK)
    expect(texts(panel, "agent")).to_have_text(want, timeout=QUICK)

    # Live again: the notice goes, every chat resyncs at once, then the slow timer again.
    post_unheard(chat, services.Actor.for_agent(agent), "unheard-2", "Found it.")
    say_live(sockets, "ok")
    expect(widget.get_by_test_id("live-notice")).to_be_hidden()
    expect(console.get_by_test_id("live-notice")).to_be_hidden()
    expect(texts(widget, "agent")).to_have_text([*want, "Found it."], timeout=QUICK)
    expect(texts(panel, "agent")).to_have_text([*want, "Found it."], timeout=QUICK)
