"""Text from people never turns the text around it: every bubble, name, title and address in the console
and the widget isolates its direction (a page title ending in a right-to-left override reversed the
address after it in the console). Judged by what Chromium computes and draws, not by the markup."""

import pytest
from playwright.sync_api import expect

from chat import services
from chat.models import Chat
from tests.browser.pages import accept, acked, open_console, open_widget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE, with no closing PDF
NAME = f"Sam {RLO}Visitor"
TITLE = f"Pricing {RLO}gpj.exe"
URL = "https://shop.example/pricing?plan=pro"


def isolation(locator):
    return locator.evaluate("e => getComputedStyle(e).unicodeBidi")


def reads_left_to_right(locator) -> bool:
    """Where Chromium drew the first and the last character of the element's text."""
    return locator.evaluate("""e => {
        const text = e.firstChild, range = document.createRange();
        range.setStart(text, 0); range.setEnd(text, 1);
        const first = range.getBoundingClientRect().left;
        range.setStart(text, text.length - 1); range.setEnd(text, text.length);
        return first < range.getBoundingClientRect().left;
    }""")


def test_names_titles_bubbles_and_addresses_isolate_their_direction(helpdesk, host_site, new_page, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    _, widget = open_widget(new_page, host_site)
    widget.get_by_test_id("prechat-name").fill(NAME)
    widget.get_by_test_id("prechat-email").fill("sam@example.com")
    widget.get_by_test_id("prechat-message").fill(f"{RLO}My order is late")
    widget.get_by_test_id("start-chat").click()
    panel = accept(console, who="Sam")
    chat = Chat.objects.get()
    services.page_view_record(visitor_id=chat.visitor_id, url=URL, title=TITLE)
    page_view = panel.get_by_test_id("page-view")
    expect(page_view).to_have_count(1)

    bubble = acked(panel, "visitor").first
    isolated_in_console = {
        "visitor name in the header": panel.locator("[data-field=name]"),
        "name on the message": bubble.locator(".hd-msg__name"),
        "bubble": bubble.locator(".hd-msg__bubble"),
        "tab label": console.get_by_test_id("chat-tab").locator(".hd-tab__label"),
        "name in my chats": console.get_by_test_id("my-chat-item").locator(".hd-item__name"),
        "page title in the timeline": page_view.locator("strong"),
        "address in the timeline": page_view.locator(".hd-event__url"),
    }
    for what, locator in isolated_in_console.items():
        assert isolation(locator) == "isolate", what
    address = page_view.locator(".hd-event__url")
    assert address.evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert reads_left_to_right(address), "the override in the title turned the address around"

    panel.get_by_test_id("reply-input").fill("Let me check that for you.")
    panel.get_by_test_id("reply-input").press("Enter")
    reply = acked(widget, "agent")
    expect(reply).to_have_count(1)
    for what, locator in {
        "agent's bubble": reply.locator(".hd-msg__bubble"),
        "my own bubble": acked(widget, "visitor").first.locator(".hd-msg__bubble"),
        "agent name in the header": widget.locator("#hd-title"),
    }.items():
        assert isolation(locator) == "isolate", what
