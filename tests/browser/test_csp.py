"""Every page works under its Content-Security-Policy in Chromium, with no violation reported: the
login page, the console in a chat, Django admin (its pages with the most script: lists, change forms,
the user form's permission pickers), the widget on another site and the demo website.

Screenshots of each page go to $SCREENSHOTS_DIR when it is set (else the test's temporary
directory), for a person to look at."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.pages import accept, acked, open_console, open_widget, start_chat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Reported in every frame, the widget's cross-site iframe included; a CSP refusal is also logged by
# Chromium itself as a console error ("Refused to …").
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} refused ${e.blockedURI || "inline"} in ${e.documentURI}`
                + ` (${e.sourceFile}:${e.lineNumber})`);
});
"""


@pytest.fixture
def watched(new_page, tmp_path):
    """Pages whose console is recorded; ``shots`` saves screenshots; at the end no CSP word may
    appear in any console message of any page."""
    messages = []
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def make(**kwargs):
        page = new_page(**kwargs)
        page.context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text} [{m.location.get('url')}]"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        return page

    def shot(page, name):
        page.screenshot(path=folder / f"csp-{name}.png", full_page=True)

    make.shot = shot
    make.messages = messages
    yield make
    refused = [m for m in messages if "Content Security Policy" in m or "CSP violation" in m or "pageerror" in m]
    assert refused == [], "\n".join(refused)


def test_login_and_console_work_under_the_policy(helpdesk, host_site, watched, agent_login):
    login = watched()
    login.goto(f"{helpdesk.url}/accounts/login/")
    expect(login.get_by_role("button", name="Log in")).to_be_visible()
    watched.shot(login, "login")

    console = open_console(watched, helpdesk, agent_login)
    visitor, widget = open_widget(watched, host_site)
    start_chat(widget, "Can you **help**? My widget squeaks.")
    panel = accept(console)
    panel.get_by_test_id("reply-input").fill("Of course! Does it squeak **all the time**?")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(acked(widget, "agent").locator("strong")).to_have_text("all the time")
    expect(acked(panel, "visitor")).to_have_count(1)
    watched.shot(console, "console")
    watched.shot(visitor, "widget-on-another-site")


def test_admin_works_under_the_policy(helpdesk, watched, django_user_model):
    from tests.factories import start_chat as start_chat_record

    django_user_model.objects.create_superuser("root", "root@example.com", "s3cret-pass", first_name="Ada")
    other = django_user_model.objects.create_user("sam", password="s3cret-pass")
    chat = start_chat_record()
    page = watched()
    page.goto(f"{helpdesk.url}/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    watched.shot(page, "admin-index")

    # A change list with actions, search and filters.
    page.goto(f"{helpdesk.url}/admin/chat/chat/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    watched.shot(page, "admin-chat-list")

    page.goto(f"{helpdesk.url}/admin/chat/chat/{chat.pk}/change/")
    expect(page.locator("#content")).to_contain_text("Hello, I need help")
    watched.shot(page, "admin-chat-change")

    # The user form: the permission pickers are built by script (SelectFilter2.js).
    page.goto(f"{helpdesk.url}/admin/auth/user/{other.pk}/change/")
    expect(page.locator("#id_user_permissions_from")).to_be_visible()
    page.locator("#id_user_permissions_input").press_sequentially("agent console")
    expect(page.locator("#id_user_permissions_from option")).to_have_count(1)
    page.locator("#id_user_permissions_from option").dblclick()
    chosen = page.locator("#id_user_permissions_to option")
    expect(chosen).to_have_text(["Live chat | chat | Can answer chats in the agent console"])
    watched.shot(page, "admin-user-change")

    # A plain add form (the navigation sidebar, and its script filter, is off: admin lists fit 1280 px).
    page.goto(f"{helpdesk.url}/admin/tickets/department/add/")
    page.get_by_label("Name").fill("Billing")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    watched.shot(page, "admin-department-added")


def test_demo_website_and_its_widget_work_under_the_policy(helpdesk, watched):
    page = watched()
    page.goto(f"{helpdesk.url}/demo/")
    expect(page.get_by_role("heading", name="Widgets that just work.")).to_be_visible()
    # The demo's own stylesheet applies (it used to be an inline <style>).
    assert page.locator("header.bar").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(20, 33, 61)"
    page.get_by_role("button", name="Chat with us").click()
    widget = page.frame_locator("#hd-frame")
    expect(widget.get_by_test_id("prechat-form")).to_be_visible()
    watched.shot(page, "demo-with-widget")
