"""The chat's header and properties pane in the console, as an agent works a chat: who the visitor is,
the ticket and its labels, a personal star and the sidebar filtered by it, the Ticket tab (department,
assignee, after the chat the transcript email and the rating) and the Chat tab (the visitor's browser,
address, presence live, the chat's duration ticking); then the ticket's page from the header's link,
and a deep link that opens a chat. A chat transferred to another agent tells that agent at once."""

import re

import pytest
from playwright.sync_api import expect

from chat.models import Chat
from tests.browser.pages import accept, acked, open_console, open_widget, start_chat
from tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_panel(console):
    return console.locator("[data-testid=chat-panel]:not([hidden])")


def hide_page(page):
    """The page goes to a background tab, as the widget's iframe sees it (headless Chromium has no
    other tab to bring to the front)."""
    frame = page.locator("#hd-frame").element_handle().content_frame()
    frame.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")


def start_chat_as(widget, name, email, text, department):
    widget.get_by_test_id("prechat-name").fill(name)
    widget.get_by_test_id("prechat-email").fill(email)
    widget.get_by_test_id("prechat-department").select_option(label=department)
    widget.get_by_test_id("prechat-message").fill(text)
    widget.get_by_test_id("start-chat").click()


def test_an_agent_works_a_chat_from_its_header_and_pane(helpdesk, host_site, new_page, agent_login, tmp_path):
    from tickets.models import Label

    sales = DepartmentFactory(name="Sales")
    support = DepartmentFactory(name="Support")
    Label.objects.create(name="billing")  # a label other tickets have: offered as a suggestion
    console = open_console(new_page, helpdesk, agent_login, locale="en-GB", timezone_id="UTC")
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "My invoice shows the wrong amount.", department="Sales")
    panel = accept(console)
    chat = Chat.objects.select_related("ticket").get()
    ref = chat.ticket.ref

    # The header: who, their email, the chat's ID and its ticket, a link to the ticket's page.
    expect(panel.get_by_test_id("chat-visitor-name")).to_have_text("Sam Visitor")
    expect(panel.get_by_test_id("chat-visitor-email")).to_have_text("sam@example.com")
    expect(panel.get_by_test_id("chat-id")).to_have_text(chat.public_id)
    ticket_link = panel.get_by_test_id("chat-ticket").get_by_role("link", name=ref)
    expect(ticket_link).to_have_attribute("href", f"/console/tickets/{ref}/")

    # Labels: one from the suggestions, one new; the suggestion goes once the ticket has it.
    suggestion = panel.locator("[data-testid=label-suggestions] option[value=billing]")
    expect(suggestion).to_have_count(1)
    box = panel.get_by_label("Add a label")
    box.fill("billing")
    box.press("Enter")
    chips = panel.get_by_test_id("label-name")
    expect(chips).to_have_text(["billing"])
    expect(suggestion).to_have_count(0)
    box.fill("wrong amount")
    box.press("Enter")
    expect(chips).to_have_text(["billing", "wrong amount"])
    expect(box).to_have_value("")

    # The server's rules are the server's: a refusal is shown by the box, with what was typed.
    box.fill("x" * 40)
    box.press("Enter")
    expect(panel.get_by_test_id("label-error")).to_have_text("A label can be at most 32 characters long.")
    expect(box).to_have_value("x" * 40)
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("")
    expect(panel.get_by_test_id("label-error")).to_be_empty()

    panel.get_by_role("button", name="Remove label billing").click()
    expect(chips).to_have_text(["wrong amount"])
    assert list(chat.ticket.labels.values_list("name", flat=True)) == ["wrong amount"]

    # A star, red, from the menu by the name; only this agent sees it.
    star = panel.get_by_test_id("star-button")
    expect(star).to_have_attribute("aria-label", "Star: none")
    star.click()
    expect(panel.get_by_role("menu")).to_be_visible()
    console.screenshot(path=tmp_path / "console-star-menu.png")
    panel.get_by_role("menuitemradio", name="Red").click()
    expect(star).to_have_attribute("aria-label", "Star: Red")
    expect(panel.get_by_role("menu")).to_be_hidden()
    mine = console.get_by_test_id("my-chat-item")
    expect(mine.get_by_test_id("item-star")).to_have_attribute("data-colour", "red")

    # Another visitor waits. The sidebar filtered by red shows only the red chat, then all again.
    other, other_widget = open_widget(new_page, host_site)
    start_chat_as(other_widget, "Kim Other", "kim@example.com", "Hello?", "Support")
    queued = console.get_by_test_id("queue-item")
    expect(queued).to_have_count(1)
    sidebar = console.get_by_role("complementary", name="Chats")
    sidebar.get_by_role("radio", name="Red").check()
    expect(queued).to_have_count(0)
    expect(console.get_by_test_id("queue-empty")).to_have_text(
        "No chats with a red star waiting (1 hidden by the filter).")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Sam Visitor")
    sidebar.get_by_role("radio", name="Any star").check()
    expect(queued).to_have_count(0)
    expect(mine).to_have_count(1)
    sidebar.get_by_role("radio", name="Blue").check()
    expect(mine).to_have_count(0)
    sidebar.get_by_role("radio", name="All").check()
    expect(queued).to_have_count(1)
    expect(mine).to_have_count(1)
    expect(console.get_by_test_id("tab-list")).to_be_visible()

    console.screenshot(path=tmp_path / "console-header.png")

    # The Ticket tab: the ticket, its status, department and assignee; the department changes here.
    panel.get_by_role("tab", name="Ticket").click()
    ticket = panel.get_by_test_id("side-panel-ticket")
    expect(ticket).to_be_visible()
    expect(ticket.get_by_test_id("ticket-ref")).to_have_text(ref)
    expect(ticket.get_by_test_id("ticket-status")).to_have_text("Open")
    department = ticket.get_by_label("Department")
    expect(department).to_have_value(str(sales.pk))
    assignee = ticket.get_by_label("Assigned to")
    expect(assignee.locator("option:checked")).to_have_text("Alex Agent (me)")
    expect(assignee).to_be_enabled()
    expect(ticket.get_by_test_id("ticket-language")).to_contain_text("en")
    department.select_option(label="Support")
    expect(panel.get_by_test_id("chat-department")).to_have_text("Support")
    expect(department).to_have_value(str(support.pk))
    chat.ticket.refresh_from_db()
    assert chat.ticket.department_id == support.pk
    console.screenshot(path=tmp_path / "console-ticket-tab.png")

    # The Chat tab: the visitor's browser, system and address, the duration ticking, presence live.
    panel.get_by_role("tab", name="Chat").click()
    tab = panel.get_by_test_id("side-panel-chat")
    expect(tab).to_be_visible()
    expect(tab.get_by_test_id("visitor-browser")).to_have_text(re.compile(r"Chrom"))
    expect(tab.get_by_test_id("visitor-os")).to_have_text(re.compile(r"Linux|Ubuntu|Debian"))
    expect(tab.get_by_test_id("visitor-ip")).to_have_text(chat.ip_address)
    expect(tab.get_by_test_id("session-agent")).to_have_text("Alex Agent")
    expect(tab.get_by_test_id("visitor-presence")).to_have_text("Online")
    expect(panel.get_by_test_id("header-presence")).to_have_text("Online")
    duration = tab.get_by_test_id("chat-duration")
    expect(duration).to_have_text(re.compile(r"^\d+:\d\d so far$"))
    first = duration.inner_text()
    expect(duration).not_to_have_text(first)  # it ticks
    expect(tab.get_by_test_id("current-page")).to_have_text("Home - Host Shop")
    console.screenshot(path=tmp_path / "console-chat-tab.png")

    # The visitor's page goes to a background tab (the widget tells the server): "Away".
    hide_page(visitor)
    expect(tab.get_by_test_id("visitor-presence")).to_contain_text("Away")
    expect(tab.get_by_test_id("visitor-presence")).to_have_attribute("data-state", "away")
    expect(panel.get_by_test_id("header-presence")).to_have_text("Away")
    expect(console.locator("#hd-announce")).to_have_text("Sam Visitor is away: their page is in a background tab.")

    # The end: the ticket is resolved, the duration stops, the transcript email is on its way.
    panel.get_by_test_id("reply-input").fill("Fixed: the invoice is corrected.")
    panel.get_by_test_id("reply-input").press("Enter")
    expect(acked(widget, "agent")).to_have_count(1)
    panel.get_by_test_id("end-button").click()
    panel.get_by_test_id("end-confirm").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Ended")
    expect(duration).to_have_text(re.compile(r"^\d+:\d\d$"))
    panel.get_by_role("tab", name="Ticket").click()
    expect(ticket.get_by_test_id("ticket-status")).to_have_text("Resolved")
    expect(assignee).to_be_disabled()
    expect(ticket.get_by_test_id("assignee-note")).to_contain_text("The chat has ended")
    emails = ticket.get_by_test_id("transcript-email")
    expect(emails).to_have_count(1)
    expect(emails.first).to_contain_text("to sam@example.com")
    ticket.get_by_role("button", name="Send transcript again").click()
    expect(emails).to_have_count(2)
    expect(emails.first).to_contain_text("by an agent")

    # The visitor rates the chat in the widget: the pane shows it, and it is read out.
    widget.get_by_test_id("rate-good").click()
    widget.get_by_test_id("rating-comment").fill("Quick and kind!")
    widget.get_by_test_id("rating-send").click()
    expect(widget.get_by_test_id("rating-status")).to_have_text("Thanks for your feedback.")
    expect(ticket.get_by_test_id("ticket-rating")).to_contain_text("Good")
    expect(ticket.get_by_test_id("rating-comment")).to_have_text("Quick and kind!")
    expect(console.locator("#hd-announce")).to_have_text("Sam Visitor rated the chat good: Quick and kind!")
    ticket.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    console.screenshot(path=tmp_path / "console-ticket-tab-ended.png")

    # The ticket's page, from the header's link: the transcript is there.
    panel.get_by_test_id("chat-ticket").get_by_role("link", name=ref).click()
    console.wait_for_url(f"{helpdesk.url}/console/tickets/{ref}/")
    expect(console.get_by_test_id("ticket-ref")).to_have_text(ref)
    expect(console.get_by_role("region", name="Conversation")).to_contain_text("My invoice shows the wrong amount.")
    expect(console.get_by_role("region", name="Conversation")).to_contain_text("Fixed: the invoice is corrected.")
    expect(console.get_by_test_id("rating")).to_have_text("Good")
    expect(console.get_by_test_id("rating-comment")).to_have_text("Quick and kind!")


def test_a_deep_link_opens_the_chat_and_the_keyboard_stars_it(helpdesk, host_site, new_page, agent_login):
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Hi there")
    expect(acked(widget, "visitor")).to_have_count(1)
    chat = Chat.objects.get()

    # Straight from another page (the ticket pages link so): the chat's panel is open.
    console = open_console(new_page, helpdesk, agent_login)
    console.goto(f"{helpdesk.url}/console/#chat={chat.public_id}")
    panel = shown_panel(console)
    expect(panel.get_by_test_id("chat-id")).to_have_text(chat.public_id)
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(console).to_have_url(f"{helpdesk.url}/console/")  # the link is taken out of the address

    # The star menu by keyboard: it opens on the current choice, arrows move, Escape closes.
    star = panel.get_by_test_id("star-button")
    star.focus()
    star.press("Enter")
    expect(panel.get_by_role("menuitemradio", name="No star")).to_be_focused()
    expect(panel.get_by_role("menuitemradio", name="No star")).to_have_attribute("aria-checked", "true")
    console.keyboard.press("Escape")
    expect(panel.get_by_role("menu")).to_be_hidden()
    expect(star).to_be_focused()
    star.press("ArrowDown")
    console.keyboard.press("Home")
    console.keyboard.press("ArrowDown")
    expect(panel.get_by_role("menuitemradio", name="Red")).to_be_focused()
    console.keyboard.press("Enter")
    expect(star).to_have_attribute("aria-label", "Star: Red")
    expect(star).to_be_focused()
    expect(console.get_by_test_id("queue-item").get_by_test_id("item-star")).to_have_attribute("data-colour", "red")

    # The same link again, in the page, after the tab was closed.
    panel.get_by_role("button", name="Close tab").click()
    expect(console.get_by_test_id("chat-tab")).to_have_count(0)
    console.evaluate(f"location.hash = '#chat={chat.public_id}'")
    expect(shown_panel(console).get_by_test_id("chat-id")).to_have_text(chat.public_id)

    # A chat that does not exist: said so, and no tab is left for it.
    console.evaluate("location.hash = '#chat=NOSUCHID'")
    expect(console.get_by_test_id("console-alert")).to_contain_text("There is no chat NOSUCHID.")
    expect(console.get_by_test_id("chat-tab")).to_have_count(1)


def test_assigning_and_transferring_tell_the_new_agent(helpdesk, host_site, new_page, agent_login,
                                                       django_user_model):
    from django.contrib.auth.models import Group

    kim = django_user_model.objects.create_user("kim", password="an0ther-pass", first_name="Kim",
                                                last_name="Agent")
    kim.groups.add(Group.objects.get(name="Agents"))
    alex_console = open_console(new_page, helpdesk, agent_login)
    kim_console = open_console(new_page, helpdesk, ("kim", "an0ther-pass"))
    visitor, widget = open_widget(new_page, host_site)
    start_chat(widget, "Can someone from billing help?")

    # Alex gives the waiting chat to Kim from its Ticket tab: a waiting chat needs no confirmation.
    alex_console.get_by_test_id("queue-open").click()
    panel = shown_panel(alex_console)
    panel.get_by_role("tab", name="Ticket").click()
    assignee = panel.get_by_label("Assigned to")
    expect(assignee.locator("option:checked")).to_have_text("Nobody yet")
    assignee.select_option(label="Kim Agent")
    expect(panel.get_by_test_id("chat-agent")).to_have_text("Kim Agent")
    expect(panel.get_by_test_id("transfer-confirm")).to_be_hidden()
    expect(panel.get_by_test_id("assignee-note")).to_have_text("Only Kim Agent can transfer it.")
    expect(assignee).to_be_disabled()

    # Kim is told, has it among her chats, and opens it from the alert.
    alert = kim_console.get_by_test_id("console-alert")
    expect(alert).to_contain_text("Alex Agent assigned the chat with Sam Visitor to you.")
    expect(kim_console.get_by_test_id("my-chat-item")).to_contain_text("Sam Visitor")
    alert.get_by_role("link", name="Open it").click()
    kim_panel = shown_panel(kim_console)
    expect(kim_panel.get_by_test_id("message-list")).to_contain_text("Alex Agent assigned the chat to Kim Agent.")
    expect(kim_panel.get_by_test_id("reply-input")).to_be_enabled()

    # Kim hands it back: an active chat of hers is transferred only once she confirms; Cancel undoes.
    kim_panel.get_by_role("tab", name="Ticket").click()
    kim_assignee = kim_panel.get_by_label("Assigned to")
    kim_assignee.select_option(label="Alex Agent")
    confirm = kim_panel.get_by_test_id("transfer-confirm")
    expect(confirm).to_contain_text("Transfer this chat to Alex Agent? You will no longer be able to reply.")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(kim_assignee.locator("option:checked")).to_have_text("Kim Agent (me)")
    assert Chat.objects.get().agent.username == "kim"
    kim_assignee.select_option(label="Alex Agent")
    confirm.get_by_role("button", name="Transfer").click()
    expect(kim_panel.get_by_test_id("chat-agent")).to_have_text("Alex Agent")
    expect(kim_panel.get_by_test_id("reply-input")).to_be_disabled()
    expect(kim_assignee).to_be_disabled()

    alert = alex_console.get_by_test_id("console-alert")
    expect(alert).to_contain_text("Kim Agent transferred a chat with Sam Visitor to you.")
    expect(panel.get_by_test_id("message-list")).to_contain_text("Kim Agent transferred the chat to Alex Agent.")
    expect(panel.get_by_test_id("reply-input")).to_be_enabled()
    expect(assignee).to_be_enabled()
