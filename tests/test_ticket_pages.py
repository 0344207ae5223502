"""The console's ticket pages: who may see them, the list's search and star filter, a ticket's page
(transcript, timeline, rating, other chats of the same person) and its two actions."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat import services as chat_services
from chat.services import Actor
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import Ticket, TicketEvent, TranscriptEmail
from tickets.services import Line

from .conftest import require
from .factories import AgentFactory, DepartmentFactory, UserFactory, VisitorFactory, start_chat

pytestmark = pytest.mark.django_db

LIST = "/console/tickets/"


def page_url(ticket) -> str:
    return f"/console/tickets/{ticket.ref}/"


def make_ticket(subject="Help", *, name="Sam Visitor", email="sam@example.com", lines=(), department=None):
    """A ticket as an ended chat leaves it: opened, with its transcript stored."""
    ticket = ticket_services.ticket_open(subject=subject, requester_name=name, requester_email=email,
                                         department=department)
    if lines:
        at = timezone.now()
        ticket_services.transcript_store(ticket_id=ticket.pk, lines=[
            Line(at=at + timedelta(seconds=i), kind=kind, author_name=who, text=text, html=html)
            for i, (kind, who, text, html) in enumerate(lines)])
    ticket.refresh_from_db()
    return ticket


def part(page: str, testid: str, end: str) -> str:
    """The element with this data-testid, up to the first ``end`` after it."""
    start = page.index(f'data-testid="{testid}"')
    return page[start:page.index(end, start)]


def refs(response) -> list[str]:
    return re.findall(r'data-testid="ticket-row" data-ref="([^"]+)"', response.content.decode())


@pytest.fixture
def agent():
    return AgentFactory(first_name="Alex", last_name="Agent")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


class TestWhoMaySee:
    def test_anonymous_is_sent_to_login(self, client):
        ticket = make_ticket()
        for url in (LIST, page_url(ticket)):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login") + "?next=")
        response = client.post(f"{page_url(ticket)}reopen/")
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    def test_a_user_who_is_not_an_agent_is_refused(self, client):
        ticket = make_ticket()
        ticket_services.ticket_resolve(ticket_id=ticket.pk)
        client.force_login(UserFactory())
        for url in (LIST, page_url(ticket)):
            response = client.get(url)
            assert response.status_code == 403, url
            assert "This account is not an agent" in response.content.decode()
        assert client.post(f"{page_url(ticket)}reopen/").status_code == 403
        assert client.post(f"{page_url(ticket)}resend/").status_code == 403
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.RESOLVED

    def test_an_agent_sees_the_list_and_the_page(self, agent_client):
        ticket = make_ticket("Where is my parcel?")
        response = agent_client.get(LIST)
        assert response.status_code == 200
        assert refs(response) == [ticket.ref]
        assert b"tickets/tickets.css" in response.content
        assert agent_client.get(page_url(ticket)).status_code == 200

    def test_an_unknown_ref_is_404_and_a_lowercase_one_redirects(self, agent_client):
        ticket = make_ticket()
        assert agent_client.get("/console/tickets/HD-999999/").status_code == 404
        assert agent_client.get("/console/tickets/nonsense/").status_code == 404
        response = agent_client.get(f"/console/tickets/{ticket.ref.lower()}/")
        assert response.status_code == 302 and response["Location"] == page_url(ticket)


class TestList:
    def test_columns(self, agent_client, agent):
        department = DepartmentFactory(name="Billing")
        ticket = make_ticket("Invoice twice", name="Robin Hood", email="robin@example.com", department=department)
        ticket_services.ticket_assign(ticket_id=ticket.pk, agent=agent)
        ticket_services.label_add(ticket_id=ticket.pk, name="VIP", by=agent)
        ticket_services.rating_set(ticket_id=ticket.pk, rating="bad", comment="Slow")
        ticket_services.star_set(ticket_id=ticket.pk, agent=agent, colour="green")
        page = agent_client.get(LIST).content.decode()
        row = page[page.index('data-testid="ticket-row"'):page.index("</tr>", page.index('data-testid="ticket-row"'))]
        for expected in (ticket.ref, "Invoice twice", "Robin Hood", "robin@example.com", "Open", "Billing",
                         "Alex Agent", "VIP", "Bad", 'data-colour="green"'):
            assert expected in row, expected
        assert '<th scope="col">Ref</th>' in page

    def test_search_by_ref_any_case(self, agent_client):
        make_ticket("One")
        two = make_ticket("Two")
        assert refs(agent_client.get(LIST, {"q": two.ref})) == [two.ref]
        assert refs(agent_client.get(LIST, {"q": f"  {two.ref.lower()} "})) == [two.ref]

    def test_search_by_email(self, agent_client):
        sam = make_ticket(email="sam@example.com")
        make_ticket(email="kim@example.org")
        assert refs(agent_client.get(LIST, {"q": "SAM@example.com"})) == [sam.ref]
        assert refs(agent_client.get(LIST, {"q": "@example.org"})) != [sam.ref]

    def test_search_by_label_any_case(self, agent_client, agent):
        vip = make_ticket("A")
        make_ticket("B")
        ticket_services.label_add(ticket_id=vip.pk, name="VIP", by=agent)
        response = agent_client.get(LIST, {"label": "VIP"})
        assert refs(response) == [vip.ref]
        assert '<option value="VIP" selected>VIP</option>' in response.content.decode()
        assert refs(agent_client.get(LIST, {"label": "vip"})) == [vip.ref]
        # A label that does not exist (a stale link) matches nothing, rather than everything.
        assert refs(agent_client.get(LIST, {"label": "gone"})) == []

    def test_search_by_status(self, agent_client):
        open_ = make_ticket("Open one")
        done = make_ticket("Done one")
        ticket_services.ticket_resolve(ticket_id=done.pk)
        assert refs(agent_client.get(LIST, {"status": "resolved"})) == [done.ref]
        assert refs(agent_client.get(LIST, {"status": "open"})) == [open_.ref]
        assert refs(agent_client.get(LIST, {"status": "closed"})) == []

    def test_text_search_is_full_text_on_postgresql(self, agent_client):
        require(connection.vendor == "postgresql", "full-text search needs PostgreSQL (DATABASE_URL)")
        refund = make_ticket("Order 1234", lines=[
            ("visitor", "Sam", "I was promised a refund last week", "<p>I was promised a refund last week</p>"),
            ("agent", "Alex", "Sorry about **that**", "<p>Sorry about <strong>that</strong></p>")])
        cancel = make_ticket("Cancelling my subscription")
        make_ticket("Something else", lines=[("visitor", "Kim", "The app crashes", "<p>The app crashes</p>")])
        # Stemmed: "refunds" finds "refund" in the transcript, "cancel" finds "Cancelling" in the subject.
        assert refs(agent_client.get(LIST, {"q": "refunds"})) == [refund.ref]
        assert refs(agent_client.get(LIST, {"q": "cancel"})) == [cancel.ref]
        assert refs(agent_client.get(LIST, {"q": "promised refund"})) == [refund.ref]
        assert refs(agent_client.get(LIST, {"q": "refund -promised"})) == []
        # The text is searched, not the stored HTML's markup.
        assert refs(agent_client.get(LIST, {"q": "strong"})) == []

    def test_text_search_by_substring_elsewhere(self, agent_client, monkeypatch):
        monkeypatch.setattr(selectors, "_full_text", lambda: False)
        refund = make_ticket("Order 1234", lines=[("visitor", "Sam", "a refund please", "<p>a refund please</p>")])
        make_ticket("Other")
        assert refs(agent_client.get(LIST, {"q": "efun"})) == [refund.ref]
        assert refs(agent_client.get(LIST, {"q": "order 12"})) == [refund.ref]

    def test_star_filter_shows_only_my_own_stars(self, client, agent):
        other_agent = AgentFactory()
        red, blue, theirs, plain = (make_ticket(s) for s in ("Red", "Blue", "Theirs", "Plain"))
        ticket_services.star_set(ticket_id=red.pk, agent=agent, colour="red")
        ticket_services.star_set(ticket_id=blue.pk, agent=agent, colour="blue")
        ticket_services.star_set(ticket_id=theirs.pk, agent=other_agent, colour="red")
        ticket_services.star_set(ticket_id=red.pk, agent=other_agent, colour="purple")
        client.force_login(agent)
        assert sorted(refs(client.get(LIST, {"star": "any"}))) == sorted([red.ref, blue.ref])
        assert refs(client.get(LIST, {"star": "red"})) == [red.ref]
        page = client.get(LIST).content.decode()
        assert len(refs(client.get(LIST))) == 4
        # My stars show in my colours; the other agent's are not shown at all.
        assert page.count('data-testid="my-star"') == 2
        assert 'data-colour="purple"' not in page
        client.force_login(other_agent)
        assert sorted(refs(client.get(LIST, {"star": "red"}))) == [theirs.ref]

    def test_queries_do_not_grow_with_the_tickets_shown(self, agent_client, agent, django_assert_max_num_queries):
        for i in range(25):
            ticket = make_ticket(f"Ticket {i}", department=DepartmentFactory())
            ticket_services.ticket_assign(ticket_id=ticket.pk, agent=agent)
            ticket_services.label_add(ticket_id=ticket.pk, name=f"label {i % 3}", by=agent)
            ticket_services.star_set(ticket_id=ticket.pk, agent=agent, colour="red")
        with django_assert_max_num_queries(8):
            assert len(refs(agent_client.get(LIST))) == 25

    def test_paginated(self, agent_client):
        for i in range(27):
            make_ticket(f"Ticket {i}")
        first = agent_client.get(LIST, {"status": "open"})
        assert len(refs(first)) == 25
        assert "page=2" in first.content.decode() and "status=open" in first.content.decode()
        second = agent_client.get(LIST, {"status": "open", "page": "2"})
        assert len(refs(second)) == 2
        assert not set(refs(first)) & set(refs(second))


class TestTicketPage:
    def test_transcript_in_order_as_stored_html_and_nothing_else_unescaped(self, agent_client, agent):
        ticket = make_ticket("Broken <b>order</b>", name="Sam <script>x</script>", lines=[
            ("visitor", "Sam <img src=x onerror=alert(1)>", "First **question**", "<p>First **question**</p>"),
            ("system", "", "Alex joined the chat.", "<p>Alex joined the chat.</p>"),
            ("agent", "Alex", "Second, **bold**", "<p>Second, <strong>bold</strong></p>"),
            ("visitor", "Sam", "Third", "<p>Third</p>"),
        ])
        ticket_services.rating_set(ticket_id=ticket.pk, rating="good", comment="Thanks <i>a lot</i>")
        page = agent_client.get(page_url(ticket)).content.decode()
        conversation = part(page, "conversation", "</ol>")
        assert re.findall(r'data-kind="(\w+)"', conversation) == ["visitor", "system", "agent", "visitor"]
        assert conversation.index("First") < conversation.index("joined") < conversation.index("Second") \
            < conversation.index("Third")
        assert "<strong>bold</strong>" in conversation  # the stored HTML
        assert "hd-msg--agent" in conversation and "hd-msg--visitor hd-msg--own" in conversation
        assert 'class="hd-note' in conversation
        # Everything that is not the stored HTML is text.
        assert "&lt;img src=x onerror=alert(1)&gt;" in conversation and "<img" not in conversation
        assert "Broken &lt;b&gt;order&lt;/b&gt;" in page
        assert "Sam &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
        assert "Thanks &lt;i&gt;a lot&lt;/i&gt;" in page
        assert 'data-testid="rating"' in page and "Good" in page

    def test_timeline(self, agent_client, agent):
        ticket = make_ticket(email="", lines=[("visitor", "Sam", "hi", "<p>hi</p>")])
        ticket_services.ticket_assign(ticket_id=ticket.pk, agent=agent)
        ticket_services.transcript_email_request(ticket_id=ticket.pk, reason=TranscriptEmail.Reason.AUTOMATIC)
        ticket_services.ticket_resolve(ticket_id=ticket.pk)
        ticket_services.ticket_reopen(ticket_id=ticket.pk, by=agent)
        ticket_services.rating_set(ticket_id=ticket.pk, rating="bad")
        ticket_services.event_record(ticket, TicketEvent.Kind.EMAIL_FAILED, "SMTP refused: 550 mailbox unavailable")
        page = agent_client.get(page_url(ticket)).content.decode()
        timeline = page[page.index('data-testid="timeline"'):]
        kinds = re.findall(r'data-kind="(\w+)"', timeline[:timeline.index("</ol>")])
        assert kinds == ["opened", "transcript", "assigned", "email_skipped", "resolved", "reopened", "rated",
                         "email_failed"]
        for text in ("Transcript stored", "Not sent: no email address was given.", "Assigned to Alex Agent",
                     "Resolved", "Reopened", "by <bdi>Alex Agent</bdi>", "Rated",
                     "SMTP refused: 550 mailbox unavailable"):
            assert text in timeline, text

    def test_transcript_emails_with_their_state(self, agent_client):
        ticket = make_ticket(lines=[("visitor", "Sam", "hi", "<p>hi</p>")])
        TranscriptEmail.objects.create(ticket=ticket, to="sam@example.com", reason="auto", state="failed",
                                       attempts=3, last_error="SMTP 554 <relay denied>")
        page = agent_client.get(page_url(ticket)).content.decode()
        emails = page[page.index('data-testid="emails"'):]
        assert "Failed" in emails and "SMTP 554 &lt;relay denied&gt;" in emails and "3 attempts" in emails

    def test_an_active_chat_shows_its_live_messages_and_a_link_to_the_console(self, agent_client, agent):
        chat = start_chat(text="My order is late")
        chat_services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        chat_services.message_post(chat_public_id=chat.public_id, actor=Actor.for_agent(agent), client_id="a1",
                                   text="Let me **check**")
        page = agent_client.get(page_url(chat.ticket)).content.decode()
        assert 'data-testid="live-notice"' in page
        assert 'data-testid="open-in-console"' in page and f'href="/console/#chat={chat.public_id}"' in page
        conversation = page[page.index('data-testid="conversation"'):]
        assert conversation.index("My order is late") < conversation.index("joined the chat") \
            < conversation.index("<strong>check</strong>")
        assert chat.public_id in page

    def test_links_to_the_other_chats_of_the_same_visitor_newest_first(self, agent_client):
        visitor = VisitorFactory()
        first = start_chat(visitor, text="First time", email="first@example.com", client_id="c1")
        chat_services.chat_end(chat_public_id=first.public_id, actor=Actor.for_visitor(visitor.pk))
        second = start_chat(visitor, text="Second time", email="second@example.com", client_id="c2")
        chat_services.chat_end(chat_public_id=second.public_id, actor=Actor.for_visitor(visitor.pk))
        by_email = make_ticket("By email", email="returning@example.com")
        third = start_chat(visitor, text="Third time", email="returning@example.com", client_id="c3")
        stranger = start_chat(text="Not them", email="someone@example.com", client_id="c4")
        page = agent_client.get(page_url(third.ticket)).content.decode()
        others = part(page, "other-tickets", "</ul>")
        assert re.findall(r'href="/console/tickets/(HD-\d+)/"', others) == [by_email.ref, second.ticket.ref,
                                                                              first.ticket.ref]
        assert stranger.ticket.ref not in others
        assert first.public_id in others and "earlier" in others
        # And the first chat's page links to the later ones.
        page = agent_client.get(page_url(first.ticket)).content.decode()
        assert third.ticket.ref in page and "later" in page


def csrf_client(agent) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    return client


def post_with_csrf(client, page, url, data=None):
    """POST as the page's form does: with the token the page rendered."""
    html = client.get(page).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    return client.post(url, {"csrfmiddlewaretoken": token, **(data or {})}, follow=True)


class TestActions:
    def test_reopen(self, agent):
        ticket = make_ticket()
        ticket_services.ticket_resolve(ticket_id=ticket.pk)
        client = csrf_client(agent)
        assert client.post(f"{page_url(ticket)}reopen/").status_code == 403  # no token
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.RESOLVED
        response = post_with_csrf(client, page_url(ticket), f"{page_url(ticket)}reopen/")
        assert response.redirect_chain[-1][0] == page_url(ticket)
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.OPEN
        page = response.content.decode()
        assert f"{ticket.ref} is open again." in page
        assert ticket.timeline.filter(kind=TicketEvent.Kind.REOPENED, actor=agent).exists()
        assert 'data-testid="reopen"' not in page  # open now: nothing to reopen

    def test_get_does_not_reopen(self, agent_client):
        ticket = make_ticket()
        ticket_services.ticket_resolve(ticket_id=ticket.pk)
        assert agent_client.get(f"{page_url(ticket)}reopen/").status_code == 405
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.RESOLVED

    def test_resend(self, agent):
        ticket = make_ticket(lines=[("visitor", "Sam", "hi", "<p>hi</p>")])
        client = csrf_client(agent)
        response = post_with_csrf(client, page_url(ticket), f"{page_url(ticket)}resend/")
        assert "The transcript will be emailed to sam@example.com." in response.content.decode()
        email = TranscriptEmail.objects.get(ticket=ticket)
        assert (email.to, email.reason, email.requested_by) == ("sam@example.com", "agent", agent)

    def test_resend_to_another_address(self, agent):
        ticket = make_ticket(email="", lines=[("visitor", "Sam", "hi", "<p>hi</p>")])
        client = csrf_client(agent)
        response = post_with_csrf(client, page_url(ticket), f"{page_url(ticket)}resend/", {"to": "kim@example.com"})
        assert "emailed to kim@example.com" in response.content.decode()
        assert TranscriptEmail.objects.get(ticket=ticket).to == "kim@example.com"
        response = post_with_csrf(client, page_url(ticket), f"{page_url(ticket)}resend/", {"to": "not an address"})
        assert "Not sent: Enter a valid email address." in response.content.decode()
        assert TranscriptEmail.objects.filter(ticket=ticket).count() == 1

    def test_resend_with_no_email_says_why(self, agent):
        ticket = make_ticket(email="", lines=[("visitor", "Sam", "hi", "<p>hi</p>")])
        client = csrf_client(agent)
        response = post_with_csrf(client, page_url(ticket), f"{page_url(ticket)}resend/")
        page = response.content.decode()
        assert response.status_code == 200
        assert "Not sent: this ticket has no email address." in page
        assert "Not sent: no email address was given." in page  # on the timeline too
        assert not TranscriptEmail.objects.filter(ticket=ticket).exists()

    def test_resend_before_the_transcript_shows_the_services_message(self, agent):
        chat = start_chat()
        client = csrf_client(agent)
        response = post_with_csrf(client, page_url(chat.ticket), f"{page_url(chat.ticket)}resend/")
        assert "There is no transcript yet: the chat has not ended." in response.content.decode()
        assert "Traceback" not in response.content.decode()
