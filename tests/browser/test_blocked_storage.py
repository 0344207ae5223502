"""The visitor is kept where the browser refuses the widget's iframe its own storage (issue 14, item 9):
the loader keeps the widget's values in the host page's storage and hands them over by postMessage.

The visitor's Chromium here blocks third-party storage for real: it runs with Playwright's own feature
list, which turns third-party storage partitioning off, and with third-party cookies blocked; there a
cross-site iframe gets a SecurityError from `localStorage`, as in Safari or Firefox's strict mode. The
test checks that it does before it trusts anything else."""

import json

import pytest
from playwright.sync_api import expect

from chat.models import Chat, Message, Visitor, hash_token
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import accept, acked, open_console, start_chat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORAGE_PROBE = """() => {
  try {
    localStorage.setItem("probe", "1");
    localStorage.removeItem("probe");
    return "usable";
  } catch (e) {
    return e.name;
  }
}"""


@pytest.fixture(scope="module")
def blocked_browser(browser):
    """A second Chromium, from the same Playwright, whose cross-site iframes get no storage at all."""
    blocked = browser.browser_type.launch(
        executable_path=CHROMIUM,
        # No ignore_default_args: Playwright's --disable-features list, ThirdPartyStoragePartitioning in it.
        args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"],
    )
    yield blocked
    blocked.close()


@pytest.fixture
def blocked_context(blocked_browser):
    context = blocked_browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    yield context
    context.close()


def widget_frame(page):
    """The iframe's Frame (to run script in it), once it has loaded the widget."""
    page.locator("#hd-frame").wait_for(state="attached")
    for _ in range(200):
        frame = next((f for f in page.frames if "/widget/" in f.url), None)
        if frame is not None:
            frame.wait_for_load_state()
            return frame
        page.wait_for_timeout(50)
    raise AssertionError("the widget's iframe did not load")


def host_keys(page):
    return page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('helpdesk-chat|')).sort()")


def test_a_visitor_whose_browser_refuses_the_iframe_storage_keeps_their_chat(
    helpdesk, host_site, new_page, agent_login, blocked_context, tmp_path
):
    console = open_console(new_page, helpdesk, agent_login)

    visitor = blocked_context.new_page()
    visitor.goto(host_site.url + "/")
    # The premise: inside the iframe storage is refused, while the host page has its own.
    assert widget_frame(visitor).evaluate(STORAGE_PROBE) == "SecurityError"
    assert visitor.evaluate(STORAGE_PROBE) == "usable"

    visitor.get_by_role("button", name="Chat with us").click()
    widget = visitor.frame_locator("#hd-frame")
    start_chat(widget, "Hello from a strict browser")
    expect(acked(widget, "visitor")).to_have_count(1)
    panel = accept(console)
    panel.get_by_test_id("reply-input").fill("Hi Sam, I'm here.")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(acked(widget, "agent")).to_have_count(1)
    chat = Chat.objects.get()

    # The host page keeps the widget's values, one item per key, named after the helpdesk.
    prefix = f"helpdesk-chat|{helpdesk.url}|"
    keys = host_keys(visitor)
    assert f"{prefix}hd.visitor.token" in keys
    assert f"{prefix}hd.visitor.chat" in keys
    token = visitor.evaluate(f"() => JSON.parse(localStorage.getItem({prefix + 'hd.visitor.token'!r}))")
    assert hash_token(token) == Visitor.objects.get().token_hash

    # A reload of the host page: the same visitor, the same chat, its messages, the panel still open.
    visitor.reload()
    widget = visitor.frame_locator("#hd-frame")
    assert widget_frame(visitor).evaluate(STORAGE_PROBE) == "SecurityError"
    expect(widget.get_by_test_id("chat-status")).to_have_text("Alex Agent")
    expect(widget.get_by_test_id("chat-info")).to_contain_text(f"Chat {chat.public_id}")
    expect(acked(widget, "visitor")).to_have_count(1)
    expect(acked(widget, "visitor")).to_contain_text("Hello from a strict browser")
    expect(acked(widget, "agent")).to_have_count(1)
    expect(acked(widget, "agent")).to_contain_text("Hi Sam, I'm here.")
    expect(visitor.locator("#hd-frame")).to_be_visible()
    visitor.screenshot(path=str(tmp_path / "blocked-storage-after-reload.png"))

    widget.get_by_test_id("reply-input").fill("Still me, after a reload")
    widget.get_by_test_id("reply-input").press("Enter")
    expect(acked(panel, "visitor")).to_have_count(2)
    expect(acked(panel, "visitor").nth(1)).to_contain_text("Still me, after a reload")

    # The console still has one chat, not two, and nothing waits in the queue.
    expect(console.get_by_test_id("chat-tab")).to_have_count(1)
    expect(console.get_by_test_id("queue-item")).to_have_count(0)
    assert Visitor.objects.count() == 1
    assert Chat.objects.count() == 1

    # Another page of the host site, in a second tab, continues the same chat.
    pricing = blocked_context.new_page()
    pricing.goto(host_site.url + "/pricing")
    second = pricing.frame_locator("#hd-frame")
    expect(pricing.locator("#hd-frame")).to_be_visible()  # open, as the visitor left it
    expect(second.get_by_test_id("chat-info")).to_contain_text(f"Chat {chat.public_id}")
    expect(acked(second, "visitor")).to_have_count(2)
    expect(acked(second, "agent")).to_have_count(1)
    second.get_by_test_id("reply-input").fill("Now on the pricing page")
    second.get_by_test_id("reply-input").press("Enter")
    expect(acked(panel, "visitor")).to_have_count(3)
    expect(acked(widget, "visitor")).to_have_count(3)  # and the first tab has it live
    expect(console.get_by_test_id("chat-tab")).to_have_count(1)
    assert Visitor.objects.count() == 1
    assert set(Message.objects.filter(author_kind="visitor").values_list("chat_id", flat=True)) == {chat.id}

    # The visitor ends the chat in one tab and starts a new one. The first tab's iframe hears of it
    # from its loader (the host page's storage events), and its next page load follows.
    heard = widget_frame(visitor).evaluate_handle("""() => {
      const heard = [];
      addEventListener("message", (e) => e.data && e.data.type === "hd:storage" && heard.push(e.data));
      return heard;
    }""")
    second.get_by_test_id("end-chat").click()
    second.get_by_test_id("end-chat-confirm").click()
    expect(second.get_by_test_id("chat-ended")).to_be_visible()
    second.get_by_test_id("new-chat").click()
    expect(second.get_by_test_id("prechat-name")).to_have_value("Sam Visitor")
    dismissed = widget_frame(visitor).wait_for_function(
        "heard => heard.map(m => m.values['hd.visitor.dismissed']).find(Boolean)", arg=heard
    ).json_value()
    assert json.loads(dismissed) == chat.public_id
    visitor.reload()
    expect(visitor.frame_locator("#hd-frame").get_by_test_id("prechat-form")).to_be_visible()
    assert Visitor.objects.count() == 1


def test_with_the_iframe_storage_usable_the_host_page_stores_nothing(helpdesk, host_site, new_page):
    visitor = new_page()
    visitor.goto(host_site.url + "/")
    # Partitioned storage, as in every real Chrome: the iframe keeps its own values.
    assert widget_frame(visitor).evaluate(STORAGE_PROBE) == "usable"
    visitor.get_by_role("button", name="Chat with us").click()
    widget = visitor.frame_locator("#hd-frame")
    start_chat(widget, "Hello from an ordinary browser")
    expect(acked(widget, "visitor")).to_have_count(1)
    visitor.reload()
    expect(acked(visitor.frame_locator("#hd-frame"), "visitor")).to_have_count(1)
    assert host_keys(visitor) == []
    assert Visitor.objects.count() == 1


REFUSE_LOCAL_STORAGE = """Object.defineProperty(window, "localStorage", {
  get() { throw new DOMException("refused by the test", "SecurityError"); },
});"""


def test_a_host_page_without_local_storage_keeps_the_chat_in_its_session_storage(
    helpdesk, host_site, blocked_context
):
    blocked_context.add_init_script(REFUSE_LOCAL_STORAGE)
    visitor = blocked_context.new_page()
    visitor.goto(host_site.url + "/")
    assert visitor.evaluate(STORAGE_PROBE) == "SecurityError"
    assert widget_frame(visitor).evaluate(STORAGE_PROBE) == "SecurityError"
    visitor.get_by_role("button", name="Chat with us").click()
    widget = visitor.frame_locator("#hd-frame")
    start_chat(widget, "Hello from a page without localStorage")
    expect(acked(widget, "visitor")).to_have_count(1)
    keys = visitor.evaluate("() => Object.keys(sessionStorage).filter(k => k.startsWith('helpdesk-chat|'))")
    assert f"helpdesk-chat|{helpdesk.url}|hd.visitor.token" in keys

    visitor.reload()  # the same tab: its session storage stays
    expect(acked(visitor.frame_locator("#hd-frame"), "visitor")).to_contain_text("without localStorage")
    assert Visitor.objects.count() == 1
