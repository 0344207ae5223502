"""What a person does on the pages, shared by the browser tests: log in to the console, open the
widget on the host site, start and accept a chat, and read the messages on screen."""

from playwright.sync_api import expect


def open_console(new_page, helpdesk, login, **context):
    page = new_page(**context)
    page.goto(f"{helpdesk.url}/console/")
    page.get_by_label("Username").fill(login[0])
    page.get_by_label("Password").fill(login[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{helpdesk.url}/console/")
    expect(page.get_by_test_id("connection-status")).to_have_text("Online")
    return page


def open_widget(new_page, host_site):
    page = new_page()
    page.goto(host_site.url + "/")
    page.get_by_role("button", name="Chat with us").click()
    return page, page.frame_locator("#hd-frame")


def start_chat(widget, text, department=None):
    widget.get_by_test_id("prechat-name").fill("Sam Visitor")
    widget.get_by_test_id("prechat-email").fill("sam@example.com")
    if department:
        widget.get_by_test_id("prechat-department").select_option(label=department)
    widget.get_by_test_id("prechat-message").fill(text)
    widget.get_by_test_id("start-chat").click()


def acked(scope, author):
    return scope.locator(f"[data-testid=message][data-author={author}]:not([data-pending])")


def bubble_colour(locator):
    return locator.locator(".hd-msg__bubble").first.evaluate("e => getComputedStyle(e).backgroundColor")


def accept(console, who="Sam Visitor"):
    item = console.get_by_test_id("queue-item").filter(has_text=who)
    expect(item).to_have_count(1)
    item.get_by_test_id("accept-button").click()
    panel = console.locator("[data-testid=chat-panel]:not([hidden])")
    expect(panel.get_by_test_id("chat-status")).to_have_text("Active")
    return panel
