"""axe-core finds no serious or critical accessibility violation in the widget (inside its iframe, before
and during a chat) nor in the console (a chat open, with messages, a page view, receipts and the
visitor's draft; the header's labels and star menu; the pane's Pages, Ticket and Chat tabs, and the
Ticket tab after the chat), as Chromium renders them. A failure lists each violation with the elements it is on."""

import pytest
from playwright.sync_api import expect

from chat import services
from chat.models import Chat
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.conftest import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCKING = ("serious", "critical")


def axe_problems(target) -> list[dict]:
    """The serious and critical violations axe-core finds in a Page or a Frame."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        require(False, "axe-playwright-python is not installed (make install-test)")
    results = Axe().run(target, options={"resultTypes": ["violations"]})
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING]


def readable(where: str, violations: list[dict]) -> str:
    lines = [f"{len(violations)} serious or critical accessibility violation(s) in {where}:"]
    for v in violations:
        lines.append(f"\n[{v['impact']}] {v['id']}: {v['help']}\n  {v['helpUrl']}")
        for node in v["nodes"][:10]:
            lines.append(f"  - {' '.join(map(str, node['target']))}\n      {node['html'][:200]}")
            summary = node.get("failureSummary") or ""
            lines.extend(f"      {line}" for line in summary.splitlines())
        if len(v["nodes"]) > 10:
            lines.append(f"  … and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def assert_accessible(where: str, target) -> None:
    violations = axe_problems(target)
    assert not violations, readable(where, violations)


def widget_frame(page):
    """The widget's iframe as a Frame, to run axe inside it (its own document, another origin)."""
    frame = page.locator("#hd-frame").element_handle().content_frame()
    assert frame is not None
    return frame


def test_widget_before_a_chat(helpdesk, host_site, new_page, tmp_path):
    page, widget = open_widget(new_page, host_site)
    expect(widget.get_by_test_id("prechat-form")).to_be_visible()
    page.screenshot(path=tmp_path / "widget-prechat.png")
    assert_accessible("the widget's pre-chat form", widget_frame(page))

    # The form with its errors shown: the messages and aria-invalid fields are checked too.
    widget.get_by_test_id("start-chat").click()
    expect(widget.locator("#hd-name-error")).to_be_visible()
    assert_accessible("the widget's pre-chat form with errors", widget_frame(page))


def test_login_page(helpdesk, new_page):
    page = new_page()
    page.goto(f"{helpdesk.url}/console/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert_accessible("the login page", page)


def test_widget_and_console_during_a_chat(helpdesk, host_site, new_page, agent_login, tmp_path):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello, my **order** is late.")
    expect(console.get_by_test_id("queue-item")).to_have_count(1)
    assert_accessible("the console with a chat waiting", console)

    # A tab is closed from its panel by a button the keyboard and screen readers reach.
    console.get_by_test_id("queue-open").click()
    expect(console.get_by_test_id("chat-tab")).to_have_count(1)
    assert_accessible("the console with a waiting chat open", console)
    console.locator("[data-testid=chat-panel]:not([hidden])").get_by_role("button", name="Close tab").click()
    expect(console.get_by_test_id("chat-tab")).to_have_count(0)

    panel = accept(console)
    chat = Chat.objects.get()
    services.page_view_record(visitor_id=chat.visitor_id, url=host_site.url + "/pricing", title="Pricing - Host Shop")
    expect(panel.get_by_test_id("page-view")).to_have_count(1)
    panel.get_by_test_id("reply-input").fill("Let me check that for you. *One moment.*")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(acked(widget, "agent")).to_have_count(1)
    widget.get_by_test_id("reply-input").fill("Order 1234, thanks")
    widget.get_by_test_id("reply-input").press("Enter")
    expect(acked(panel, "visitor")).to_have_count(2)
    widget.get_by_test_id("reply-input").fill("And one more thing")  # the draft shows in the console
    expect(panel.get_by_test_id("typing-preview")).to_be_visible()
    expect(panel.get_by_test_id("receipt")).to_have_attribute("data-state", "read")

    visitor.screenshot(path=tmp_path / "widget-during-chat.png")
    console.screenshot(path=tmp_path / "console-during-chat.png")
    assert_accessible("the widget during a chat", widget_frame(visitor))
    assert_accessible("the console with a chat open", console)

    panel.get_by_test_id("side-tab-pages").click()
    assert_accessible("the console's Pages tab", console)

    # The header's labels (a chip, and a refusal shown by the box) and the star menu open.
    box = panel.get_by_label("Add a label")
    box.fill("vip")
    box.press("Enter")
    expect(panel.get_by_test_id("label-chip")).to_have_count(1)
    box.fill("x" * 40)
    box.press("Enter")
    expect(panel.get_by_test_id("label-error")).not_to_be_empty()
    panel.get_by_test_id("star-button").click()
    expect(panel.get_by_role("menu")).to_be_visible()
    assert_accessible("the console's header with a label, an error and the star menu", console)
    panel.get_by_role("menuitemradio", name="Purple").click()
    expect(panel.get_by_test_id("star-button")).to_have_attribute("aria-label", "Star: Purple")

    panel.get_by_role("tab", name="Ticket").click()
    expect(panel.get_by_test_id("ticket-ref")).to_have_text(chat.ticket.ref)
    assert_accessible("the console's Ticket tab", console)
    panel.get_by_role("tab", name="Chat").click()
    expect(panel.get_by_test_id("visitor-presence")).to_have_text("Online")
    assert_accessible("the console's Chat tab", console)

    widget.get_by_test_id("end-chat").click()
    expect(widget.get_by_test_id("end-chat-confirm-bar")).to_be_visible()
    assert_accessible("the widget asking to end the chat", widget_frame(visitor))
    widget.get_by_test_id("end-chat-confirm").click()
    expect(widget.get_by_test_id("chat-ended")).to_be_visible()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    assert_accessible("the widget after the chat", widget_frame(visitor))
    assert_accessible("the console after the chat", console)
    panel.get_by_role("tab", name="Ticket").click()
    expect(panel.get_by_test_id("transcript-email")).to_have_count(1)
    assert_accessible("the console's Ticket tab after the chat", console)

    # The rating with its comment box open, thanked, and the transcript asked for.
    widget.get_by_role("button", name="Bad").click()
    expect(widget.get_by_test_id("rating-status")).to_have_text("Thanks for your feedback.")
    widget.get_by_label("Tell us more (optional)").fill("Slow to answer")
    widget.get_by_role("button", name="Email me the transcript").click()
    expect(widget.get_by_test_id("transcript-status")).to_contain_text("sam@example.com")
    visitor.screenshot(path=tmp_path / "widget-rating.png")
    assert_accessible("the widget's rating with the comment box open", widget_frame(visitor))

    # The tablist holds tabs only; Delete on a tab closes it (the × on it is for the mouse).
    tab = console.get_by_role("tab", name="Sam Visitor")
    tab.focus()
    tab.press("Delete")
    expect(console.get_by_test_id("chat-tab")).to_have_count(0)
    expect(console.get_by_test_id("console-empty")).to_be_visible()
