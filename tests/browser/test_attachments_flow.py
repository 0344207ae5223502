"""Files both ways, as people send them: the visitor attaches a screenshot in the widget (the file
picker, and a paste into the reply box), the agent drops a photo on the console's chat view and
replies in Markdown, the visitor sends a PDF that the agent downloads; each side sees the other's
images really loaded (the widget's from blob: URLs fetched with the visitor's token, the console's
from its session) and the file as a card. A file over the page's limit, or one the server refuses, is
told in words and adds nothing; an upload in progress can be cancelled. axe-core checks both pages
with files in the conversation.

Screenshots go to $SCREENSHOTS_DIR when it is set (else the test's temporary directory)."""

import base64
import io
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from chat.models import ChatSettings
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.browser.test_accessibility import assert_accessible, widget_frame

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REL = "noopener noreferrer nofollow"
PANEL_LOG = "[data-testid=chat-panel]:not([hidden]) .hd-log"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"% padding\n" * 120

# Whether every image in `root` matched by `selector` has loaded with real pixels.
LOADED = """([root, selector, count]) => {
  const imgs = [...root.querySelectorAll(selector)];
  return imgs.length === count && imgs.every((i) => i.complete && i.naturalWidth > 0);
}"""

# Builds a File from base64 bytes and sends it as a paste into the element, or a drag and drop onto it.
PASTE = """([el, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""
DRAG_OVER = """([el, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  window.__hdDrag = data;
  el.dispatchEvent(new DragEvent("dragenter", { dataTransfer: data, bubbles: true, cancelable: true }));
  el.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""
DROP = """(el) => el.dispatchEvent(
  new DragEvent("drop", { dataTransfer: window.__hdDrag, bubbles: true, cancelable: true }))"""


def image(kind: str, size=(1280, 720), colour=(47, 84, 235)) -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((size[0] // 8, size[1] // 6, size[0] // 2, size[1] // 2), fill=(255, 230, 128))
    draw.ellipse((size[0] // 2, size[1] // 3, size[0] - 40, size[1] - 40), fill=(18, 183, 106))
    out = io.BytesIO()
    picture.save(out, kind)
    return out.getvalue()


def shots_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def frame_of(page):
    return widget_frame(page)


def wait_loaded(target, root_selector: str, selector: str, count: int) -> None:
    """Wait until `count` images under the element at root_selector have loaded with pixels."""
    root = target.locator(root_selector).first.element_handle()
    target.wait_for_function(LOADED, arg=[root, selector, count])


def shown_panel(console):
    """The chat's panel after a reload of the console (its tab comes back by itself)."""
    panel = console.locator("[data-testid=chat-panel]:not([hidden])")
    expect(panel.get_by_test_id("chat-status")).to_have_text("Active")
    return panel


def test_files_both_ways_between_the_widget_and_the_console(helpdesk, host_site, new_page, agent_login, tmp_path):
    ChatSettings(upload_max_mb=1).save()
    shots = shots_dir(tmp_path)
    console = open_console(new_page, helpdesk, agent_login)
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hello! The checkout page shows an error, here is a screenshot.")
    panel = accept(console)
    expect(widget.get_by_test_id("chat-status")).to_have_text("Alex Agent")
    frame = frame_of(visitor)

    # The visitor picks a PNG: its thumbnail shows in the widget (from a blob: URL) and in the console.
    attach = widget.get_by_role("button", name="Attach a file")
    expect(attach).to_be_visible()
    widget.get_by_test_id("file-input").set_input_files(
        files=[{"name": "checkout error.png", "mimeType": "image/png", "buffer": image("PNG")}])
    mine = acked(widget, "visitor").locator("[data-testid=attachment-thumbnail]")
    expect(mine).to_have_count(1)
    wait_loaded(frame, "#hd-log", "[data-testid=attachment-thumbnail]", 1)
    assert mine.get_attribute("src").startswith("blob:")
    expect(mine).to_have_attribute("alt", "checkout error.png")
    assert (mine.get_attribute("width"), mine.get_attribute("height")) == ("320", "180")
    expect(acked(widget, "visitor").locator("figcaption")).to_have_text("checkout error.png")
    theirs = acked(panel, "visitor").locator("[data-testid=attachment-thumbnail]")
    expect(theirs).to_have_count(1)
    wait_loaded(console, PANEL_LOG, "[data-testid=attachment-thumbnail]", 1)
    link = acked(panel, "visitor").get_by_role("link", name="checkout error.png")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    assert re.fullmatch(r"/files/[A-Za-z0-9_-]+/", link.get_attribute("href"))
    expect(widget.get_by_test_id("upload-list")).to_be_hidden()

    # A screenshot pasted into the reply box goes too, under a name of its time.
    b64 = base64.b64encode(image("PNG", size=(800, 600), colour=(220, 40, 40))).decode()
    frame.evaluate(PASTE, [frame.locator("#hd-reply").element_handle(), b64, "image.png", "image/png"])
    expect(acked(widget, "visitor").locator("[data-testid=attachment-thumbnail]")).to_have_count(2)
    pasted = acked(panel, "visitor").locator("figcaption").nth(1)
    expect(pasted).to_have_text(re.compile(r"^pasted-image-\d{4}-\d{2}-\d{2}-\d{4}\.png$"))
    wait_loaded(frame, "#hd-log", "[data-testid=attachment-thumbnail]", 2)

    # The agent drops a JPEG on the chat view (a hint shows while it is over it), then replies in Markdown.
    conv = panel.locator(".hd-panel__conv")
    b64 = base64.b64encode(image("JPEG", size=(600, 800), colour=(120, 60, 200))).decode()
    console.evaluate(DRAG_OVER, [conv.element_handle(), b64, "label photo.jpg", "image/jpeg"])
    expect(panel.get_by_test_id("drop-hint")).to_be_visible()
    console.screenshot(path=shots / "attachments-console-drop.png")
    conv.evaluate(DROP)
    expect(panel.get_by_test_id("drop-hint")).to_be_hidden()
    expect(acked(panel, "agent").locator("[data-testid=attachment-thumbnail]")).to_have_count(1)
    expect(acked(widget, "agent").locator("[data-testid=attachment-thumbnail]")).to_have_count(1)
    wait_loaded(frame, "#hd-log", "[data-author=agent] [data-testid=attachment-thumbnail]", 1)
    wait_loaded(console, PANEL_LOG, "[data-author=agent] [data-testid=attachment-thumbnail]", 1)
    agent_thumb = acked(widget, "agent").locator("[data-testid=attachment-thumbnail]")
    assert (agent_thumb.get_attribute("width"), agent_thumb.get_attribute("height")) == ("240", "320")

    box = panel.get_by_test_id("reply-input")
    box.fill("Thanks! **Try this** and a [link](https://example.com)")
    box.press("Enter")
    for side in (widget, panel):
        reply = acked(side, "agent").filter(has_text="Try this")
        expect(reply.locator("strong")).to_have_text("Try this")
        anchor = reply.get_by_role("link", name="link")
        expect(anchor).to_have_attribute("href", "https://example.com")
        expect(anchor).to_have_attribute("target", "_blank")
        expect(anchor).to_have_attribute("rel", REL)

    # The full image opens in the widget's lightbox; Escape closes it (not the widget), focus returns.
    opener = acked(widget, "agent").get_by_test_id("attachment-open")
    opener.click()
    expect(widget.get_by_test_id("lightbox")).to_be_visible()
    expect(widget.get_by_test_id("lightbox-close")).to_be_focused()
    wait_loaded(frame, "[data-testid=lightbox]", "[data-testid=lightbox-image]", 1)
    visitor.screenshot(path=shots / "attachments-widget-lightbox.png")
    assert_accessible("the widget's lightbox", widget_frame(visitor))
    visitor.keyboard.press("Escape")
    expect(widget.get_by_test_id("lightbox")).to_be_hidden()
    expect(opener).to_be_focused()
    expect(widget.get_by_test_id("chat-view")).to_be_visible()
    opener.click()
    widget.get_by_test_id("lightbox-close").click()
    expect(widget.get_by_test_id("lightbox")).to_be_hidden()

    # A PDF from the visitor: a card with its name and size on both sides, a download in the console.
    widget.get_by_test_id("file-input").set_input_files(
        files=[{"name": "Order 1234.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    card = acked(panel, "visitor").get_by_test_id("attachment-file")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("attachment-name")).to_have_text("Order 1234.pdf")
    expect(card.get_by_test_id("attachment-info")).to_have_text("1.2 KB · PDF document")
    expect(card).to_have_attribute("download", "Order 1234.pdf")
    answer = console.context.request.get(helpdesk.url + card.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.body() == PDF
    with console.expect_download() as download:
        card.click()
    assert download.value.suggested_filename == "Order 1234.pdf"
    # …and in the widget, through a blob fetched with the token.
    widget_card = acked(widget, "visitor").get_by_test_id("attachment-file")
    expect(widget_card.get_by_test_id("attachment-info")).to_have_text("1.2 KB · PDF document")
    with visitor.expect_download() as download:
        widget_card.click()
    assert download.value.suggested_filename == "Order 1234.pdf"
    assert Path(download.value.path()).read_bytes() == PDF

    # An upload on its way: a row with its name, progress and Cancel; cancelled, nothing is added.
    held = []
    visitor.context.route("**/chat/*/uploads/", lambda route: held.append(route))
    widget.get_by_test_id("file-input").set_input_files(
        files=[{"name": "big photo.png", "mimeType": "image/png", "buffer": image("PNG", size=(900, 700))}])
    row = widget.get_by_test_id("upload")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("big photo.png")
    expect(row.get_by_role("progressbar", name="Sending big photo.png")).to_be_visible()
    expect(row.get_by_role("button", name="Cancel sending big photo.png")).to_be_visible()
    messages_before = acked(widget, "visitor").count()
    assert_accessible("the widget with an upload on its way", widget_frame(visitor))
    visitor.screenshot(path=shots / "attachments-widget.png")
    console.screenshot(path=shots / "attachments-console.png")
    frame.evaluate("() => { document.getElementById('hd-log').scrollTop = 0; }")
    panel.locator(".hd-log").evaluate("log => { log.scrollTop = 0; }")
    visitor.screenshot(path=shots / "attachments-widget-top.png")
    console.screenshot(path=shots / "attachments-console-top.png")
    row.get_by_role("button", name="Cancel sending big photo.png").click()
    expect(widget.get_by_test_id("upload-list")).to_be_hidden()
    visitor.context.unroute("**/chat/*/uploads/")
    for route in held:
        try:
            route.abort()
        except Exception:  # noqa: BLE001 - the browser has let go of the cancelled request already
            pass

    # Too large for the page's limit: said in words before anything is sent.
    limit = int(frame.evaluate("() => document.body.dataset.uploadMaxBytes"))
    widget.get_by_test_id("file-input").set_input_files(
        files=[{"name": "huge.zip", "mimeType": "application/zip", "buffer": b"P" * (limit + 1)}])
    error = widget.get_by_test_id("reply-error")
    expect(error).to_contain_text("huge.zip is")
    expect(error).to_contain_text("the most that can be sent here")
    # Refused by the server (a PDF named .png): the server's words, as they are.
    widget.get_by_test_id("file-input").set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PDF}])
    expect(error).to_contain_text("This file's name ends in .png, but the file is a PDF document")
    # Nothing of them was added: the next message follows the PDF card directly.
    widget.get_by_test_id("reply-input").fill("Sorry, wrong files.")
    widget.get_by_test_id("reply-input").press("Enter")
    expect(acked(panel, "visitor").last).to_contain_text("Sorry, wrong files.")
    expect(acked(widget, "visitor")).to_have_count(messages_before + 1)
    expect(acked(panel, "visitor").locator("[data-testid=attachment-thumbnail]")).to_have_count(2)
    expect(acked(panel, "visitor").get_by_test_id("attachment-file")).to_have_count(1)

    assert_accessible("the widget with files in the conversation", widget_frame(visitor))
    assert_accessible("the console with files in the conversation", console)

    # A file that cannot be read says so in words, never as a broken image.
    for page in (visitor, console):
        page.context.route("**/files/*/thumbnail/", lambda route: route.fulfill(status=404, body="gone"))
        page.reload()
    widget = visitor.frame_locator("#hd-frame")
    panel = shown_panel(console)
    for side in (widget, panel):
        expect(side.get_by_test_id("attachment-unavailable")).to_have_count(3)
        expect(side.get_by_test_id("attachment-unavailable").first).to_have_text("File unavailable")
        expect(side.get_by_test_id("attachment-thumbnail")).to_have_count(0)
    for page in (visitor, console):
        page.context.unroute("**/files/*/thumbnail/")

    # Files go only while the chat is open: once it ended, neither side offers to attach.
    panel.get_by_test_id("end-button").click()
    panel.get_by_test_id("end-confirm").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    expect(panel.get_by_role("button", name="Attach a file")).to_be_disabled()
    expect(widget.get_by_test_id("chat-ended")).to_be_visible()
    expect(widget.get_by_role("button", name="Attach a file")).to_be_hidden()
