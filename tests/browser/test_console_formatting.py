"""The console's reply box formats like a ticket reply: an agent selects text and uses the toolbar and
the shortcuts, sees the server's rendering in the preview, sends, and the visitor gets it formatted."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.browser.test_accessibility import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = "https://track.example/123"
REL = "noopener noreferrer nofollow"


def select_back(box, chars: int) -> None:
    """Select the `chars` characters before the caret, as a person does with Shift+Left."""
    for _ in range(chars):
        box.press("Shift+ArrowLeft")


def expect_formatted(scope) -> None:
    """The reply's HTML as the server made it: bold, a link opening in a new tab, a numbered list,
    and a code span whose `<script>` shows as typed (not as `&lt;script&gt;`, not as a tag)."""
    expect(scope.locator("strong")).to_have_text("late")
    link = scope.get_by_role("link", name="tracking page")
    expect(link).to_have_attribute("href", LINK)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", REL)
    expect(scope.locator("ol > li")).to_have_text(["Check the label", "Call us"])
    expect(scope.locator("code")).to_have_text("<script>")
    expect(scope.locator("script")).to_have_count(0)


def test_agent_formats_previews_and_sends_a_reply(helpdesk, host_site, new_page, agent_login, tmp_path):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Where is my order?")
    panel = accept(console)

    toolbar = panel.get_by_role("toolbar", name="Formatting")
    bold = toolbar.get_by_role("button", name="Bold")
    expect(bold).to_be_enabled()
    expect(bold).to_have_attribute("title", "Bold (Ctrl+B)")
    expect(panel.get_by_test_id("reply-hint")).to_contain_text("Ctrl+K link")
    box = panel.get_by_test_id("reply-input")
    expect(box).to_be_focused()

    # Bold from the toolbar on a selected word: the box keeps focus and the word stays selected.
    box.press_sequentially("Sorry, your order is late")
    select_back(box, 4)
    bold.click()
    expect(box).to_be_focused()
    expect(box).to_have_value("Sorry, your order is **late**")
    assert box.evaluate("b => b.value.slice(b.selectionStart, b.selectionEnd)") == "late"

    # Ctrl+K on selected words: they are the link's text, and the address is selected to type over.
    box.press("End")
    box.press_sequentially(". See the tracking page")
    select_back(box, len("tracking page"))
    box.press("Control+k")
    expect(box).to_have_value("Sorry, your order is **late**. See the [tracking page](https://)")
    box.press_sequentially(LINK)

    # Two lines made a numbered list by the button; Markdown gets the blank line a list needs.
    box.press("End")
    box.press_sequentially(".")
    box.press("Shift+Enter")
    box.press_sequentially("Check the label")
    box.press("Shift+Enter")
    box.press_sequentially("Call us")
    box.press("Shift+ArrowUp")
    box.press("Shift+Home")
    toolbar.get_by_role("button", name="Numbered list").click()
    expect(box).to_be_focused()

    # A code span with a tag in it, by the button.
    box.press("Control+End")
    box.press("Shift+Enter")
    box.press("Shift+Enter")
    box.press_sequentially("Never paste <script>")
    select_back(box, len("<script>"))
    toolbar.get_by_role("button", name="Inline code").click()
    expect(box).to_have_value(
        f"Sorry, your order is **late**. See the [tracking page]({LINK}).\n\n"
        "1. Check the label\n2. Call us\n\nNever paste `<script>`"
    )

    # The toolbar is one tab stop; the arrow keys move along it.
    bold.focus()
    bold.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="Italic")).to_be_focused()
    expect(toolbar.get_by_role("button", name="Italic")).to_have_attribute("tabindex", "0")
    expect(bold).to_have_attribute("tabindex", "-1")

    # Preview: the server's HTML of the text, and it follows what is typed.
    preview_toggle = toolbar.get_by_role("button", name="Preview")
    expect(preview_toggle).to_have_attribute("aria-pressed", "false")
    preview_toggle.click()
    expect(preview_toggle).to_have_attribute("aria-pressed", "true")
    preview = panel.get_by_test_id("reply-preview-body")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("dir", "auto")
    expect_formatted(preview)
    box.press("Control+End")
    box.press_sequentially(" _Thanks!_")
    expect(preview.locator("em")).to_have_text("Thanks!")
    console.screenshot(path=tmp_path / "console-formatting-preview.png")
    assert_accessible("the console's reply box with its toolbar and preview", console)

    # Sent with Enter: formatted in the console's timeline and in the visitor's widget.
    box.press("Enter")
    expect(acked(panel, "agent")).to_have_count(1)
    expect_formatted(acked(panel, "agent"))
    expect(acked(widget, "agent")).to_have_count(1)
    expect_formatted(acked(widget, "agent"))
    expect(panel.get_by_test_id("reply-preview-empty")).to_have_text("Nothing to preview")
    expect(preview).to_be_hidden()

    # Past the formatting limits, the preview says why before anything is sent.
    box.fill("> " * 20 + "deep")
    expect(panel.get_by_test_id("reply-error")).to_contain_text("nested")
    expect(panel.get_by_test_id("reply-preview-empty")).to_be_visible()
    box.fill("fine again")
    expect(preview).to_have_text("fine again")
    expect(panel.get_by_test_id("reply-error")).to_be_empty()

    # Ended: the toolbar is disabled with the box, and the preview closes.
    panel.get_by_test_id("end-button").click()
    panel.get_by_test_id("end-confirm").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    expect(box).to_be_disabled()
    for button in toolbar.get_by_role("button").all():
        expect(button).to_be_disabled()
    expect(panel.get_by_test_id("reply-preview")).to_be_hidden()
    expect(preview_toggle).to_have_attribute("aria-pressed", "false")


def test_shortcuts_toggle_and_respect_the_length_limit(helpdesk, host_site, new_page, agent_login):
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello")
    panel = accept(console)
    box = panel.get_by_test_id("reply-input")

    # Ctrl+B and Ctrl+I with nothing selected: marks round the caret; again, they come off.
    box.press("Control+b")
    expect(box).to_have_value("****")
    box.press_sequentially("now")
    expect(box).to_have_value("**now**")
    box.press("Control+a")
    box.press("Control+i")
    expect(box).to_have_value("_**now**_")
    box.press("Control+i")
    expect(box).to_have_value("**now**")
    # An edit is one step to undo, as typing is.
    box.press("Control+z")
    expect(box).to_have_value("_**now**_")

    # A change that would pass the box's limit is not made; the limit is said.
    limit = int(box.get_attribute("maxlength"))
    box.fill("x" * (limit - 1))
    box.press("Control+a")
    box.press("Control+b")
    expect(box).to_have_value(re.compile(r"^x+$"))
    expect(panel.get_by_test_id("reply-error")).to_contain_text(f"{limit:,}")
