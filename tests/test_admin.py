"""Django admin of tickets and chats: the conversation as its stored HTML (and nothing else unescaped),
the read-only timeline, transcript emails and page views, links between a ticket and its chat, the
lists' filters and searches, and changes that go through the services."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import services as chat_services
from chat.services import Actor
from tickets import services as ticket_services
from tickets.models import Label, Ticket, TicketEvent, TranscriptEmail
from tickets.services import Line

from .factories import AgentFactory, DepartmentFactory, UserFactory, start_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def ticket_with_transcript(subject="Refund", *, email="sam@example.com", name="Sam Visitor"):
    ticket = ticket_services.ticket_open(subject=subject, requester_name=name, requester_email=email,
                                         department=None)
    at = timezone.now()
    ticket_services.transcript_store(ticket_id=ticket.pk, lines=[
        Line(at=at, kind="visitor", author_name="Sam <img src=x onerror=alert(1)>", text="Where is **it**?",
             html="<p>Where is **it**?</p>"),
        Line(at=at + timedelta(seconds=1), kind="system", text="Alex joined the chat.",
             html="<p>Alex joined the chat.</p>"),
        Line(at=at + timedelta(seconds=2), kind="agent", author_name="Alex", text="On its **way**",
             html="<p>On its <strong>way</strong></p>"),
    ])
    return ticket


def conversation(page: str) -> str:
    start = page.index('data-testid="admin-conversation"')
    return page[start:page.index("</table>", start)]


def ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())]


class TestTicketPage:
    def test_shows_the_transcript_as_its_stored_html_and_escapes_the_rest(self, admin_client):
        ticket = ticket_with_transcript(subject="Broken <b>thing</b>")
        response = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
        assert response.status_code == 200
        page = response.content.decode()
        table = conversation(page)
        assert "<p>On its <strong>way</strong></p>" in table
        assert table.index("Where is") < table.index("joined the chat") < table.index("On its")
        assert "Sam &lt;img src=x onerror=alert(1)&gt;" in table and "<img" not in table
        assert "tickets/admin.css" in page
        assert "Broken <b>thing</b>" not in page

    def test_timeline_emails_labels_and_rating(self, admin_client):
        agent = AgentFactory()
        ticket = ticket_with_transcript()
        ticket_services.label_add(ticket_id=ticket.pk, name="VIP", by=agent)
        ticket_services.rating_set(ticket_id=ticket.pk, rating="bad", comment="Took <em>ages</em>")
        TranscriptEmail.objects.create(ticket=ticket, to="sam@example.com", reason="auto", state="failed",
                                       attempts=4, last_error="SMTP 550 <mailbox unavailable>")
        page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
        timeline = page[page.index('id="timeline-group"'):]
        assert "Transcript stored" in timeline and "Label added" in timeline and "Rated" in timeline
        emails = page[page.index('id="transcript_emails-group"'):]
        assert "Failed" in emails and ">4<" in emails and "SMTP 550 &lt;mailbox unavailable&gt;" in emails
        assert "Took &lt;em&gt;ages&lt;/em&gt;" in page
        assert re.search(r'<option value="\d+" selected>VIP</option>', page)
        # Written by services only: no way to add, change or delete these rows here.
        assert 'name="timeline-0-detail"' not in page and 'name="timeline-0-DELETE"' not in page
        assert 'name="transcript_emails-0-last_error"' not in page

    def test_an_active_chats_ticket_shows_the_live_messages_and_links_to_the_chat(self, admin_client):
        agent = AgentFactory()
        chat = start_chat(text="My parcel <script>alert(1)</script>")
        chat_services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        chat_services.message_post(chat_public_id=chat.public_id, actor=Actor.for_agent(agent), client_id="a1",
                                   text="Let me **check**")
        page = admin_client.get(f"/admin/tickets/ticket/{chat.ticket_id}/change/").content.decode()
        assert f'href="/admin/chat/chat/{chat.pk}/change/"' in page
        table = conversation(page)
        assert "no transcript stored yet" in table
        assert "<strong>check</strong>" in table and "**check**" not in table
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table and "<script>alert" not in table

    def test_a_ticket_without_transcript_or_chat_says_so(self, admin_client):
        ticket = ticket_services.ticket_open(subject="Phone call", requester_name="Kim", requester_email="",
                                             department=None)
        page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
        assert 'data-testid="admin-conversation-empty"' in page

    def test_changes_go_through_the_services_and_reach_the_timeline(self, admin_client):
        ticket = ticket_with_transcript()
        department = DepartmentFactory(name="Billing")
        Label.objects.create(name="Urgent")
        urgent = Label.objects.get(name="Urgent")
        data = {
            "subject": "Refund, again", "status": "resolved", "department": department.pk, "labels": [urgent.pk],
            "requester_name": "Sam Visitor", "requester_email": "sam@example.com", "language": "",
            "timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0",
            "transcript_emails-TOTAL_FORMS": "0", "transcript_emails-INITIAL_FORMS": "0",
        }
        response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        ticket.refresh_from_db()
        assert (ticket.subject, ticket.status, ticket.department_id) == ("Refund, again", "resolved", department.pk)
        assert list(ticket.labels.values_list("name", flat=True)) == ["Urgent"]
        kinds = set(ticket.timeline.values_list("kind", flat=True))
        assert {TicketEvent.Kind.RESOLVED, TicketEvent.Kind.DEPARTMENT, TicketEvent.Kind.LABELLED} <= kinds

    def test_a_department_chosen_for_a_chats_ticket_moves_the_chat_too(self, admin_client):
        chat = start_chat()
        billing = DepartmentFactory(name="Billing")
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        data = {
            "subject": ticket.subject, "status": "open", "department": billing.pk, "labels": [],
            "requester_name": ticket.requester_name, "requester_email": ticket.requester_email, "language": "",
            "timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0",
            "transcript_emails-TOTAL_FORMS": "0", "transcript_emails-INITIAL_FORMS": "0",
        }
        response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        chat.refresh_from_db()
        assert chat.department_id == billing.pk == Ticket.objects.get(pk=ticket.pk).department_id
        assert ticket.timeline.filter(kind=TicketEvent.Kind.DEPARTMENT).count() == 1

    def test_a_chat_is_not_edited_in_admin(self, admin_client):
        chat = start_chat()
        page = admin_client.get(f"/admin/chat/chat/{chat.pk}/change/").content.decode()
        assert 'name="department"' not in page and 'name="status"' not in page

    def test_tickets_and_chats_are_not_added_by_hand(self, admin_client):
        assert admin_client.get("/admin/tickets/ticket/add/").status_code == 403
        assert admin_client.get("/admin/chat/chat/add/").status_code == 403


class TestChatPage:
    def test_conversation_as_html_page_views_and_ticket_link(self, admin_client):
        agent = AgentFactory()
        chat = start_chat(text="Hello <b>there</b>")
        chat_services.chat_accept(chat_public_id=chat.public_id, agent=agent)
        chat_services.message_post(chat_public_id=chat.public_id, actor=Actor.for_agent(agent), client_id="a1",
                                   text="Here is **the answer**")
        chat_services.page_view_record(visitor_id=chat.visitor_id, url="https://shop.example/cart",
                                       title="Your <cart>")
        response = admin_client.get(f"/admin/chat/chat/{chat.pk}/change/")
        assert response.status_code == 200
        page = response.content.decode()
        table = conversation(page)
        assert "<strong>the answer</strong>" in table and "**the answer**" not in table
        assert "Hello &lt;b&gt;there&lt;/b&gt;" in table
        views = page[page.index('id="page_views-group"'):]
        assert "https://shop.example/cart" in views and "Your &lt;cart&gt;" in views
        assert 'name="page_views-0-url"' not in views  # read-only
        assert f'href="/admin/tickets/ticket/{chat.ticket_id}/change/"' in page
        assert f"HD-{chat.ticket_id:06d}" in page


class TestLists:
    def test_every_list_answers(self, admin_client):
        chat = start_chat()
        ticket = ticket_with_transcript()
        TranscriptEmail.objects.create(ticket=ticket, to="sam@example.com", reason="auto")
        Label.objects.create(name="VIP")
        for url in ("/admin/tickets/ticket/", "/admin/chat/chat/", "/admin/chat/visitor/", "/admin/tickets/label/",
                    "/admin/tickets/transcriptemail/", "/admin/tickets/department/",
                    f"/admin/chat/visitor/{chat.visitor_id}/change/",
                    f"/admin/tickets/transcriptemail/{TranscriptEmail.objects.get().pk}/change/"):
            assert admin_client.get(url).status_code == 200, url

    def test_ticket_filters(self, admin_client):
        agent = AgentFactory()
        billing = DepartmentFactory(name="Billing")
        good = ticket_services.ticket_open(subject="A", requester_name="A", requester_email="a@example.com",
                                           department=billing)
        ticket_services.rating_set(ticket_id=good.pk, rating="good")
        done = ticket_services.ticket_open(subject="B", requester_name="B", requester_email="b@example.com",
                                           department=None)
        ticket_services.ticket_resolve(ticket_id=done.pk)
        ticket_services.label_add(ticket_id=done.pk, name="VIP", by=agent)
        vip = Label.objects.get(name="VIP")
        assert ids(admin_client.get("/admin/tickets/ticket/", {"status__exact": "resolved"})) == [done.pk]
        assert ids(admin_client.get("/admin/tickets/ticket/", {"department__id__exact": billing.pk})) == [good.pk]
        assert ids(admin_client.get("/admin/tickets/ticket/", {"rating__exact": "good"})) == [good.pk]
        assert ids(admin_client.get("/admin/tickets/ticket/", {"labels__id__exact": vip.pk})) == [done.pk]

    def test_ticket_search_by_ref_email_name_and_subject(self, admin_client):
        one = ticket_services.ticket_open(subject="Broken zipper", requester_name="Robin Hood",
                                          requester_email="robin@sherwood.example", department=None)
        two = ticket_services.ticket_open(subject="Other", requester_name="Kim", requester_email="kim@example.com",
                                          department=None)
        for term in (one.ref, one.ref.lower(), "robin@sherwood", "Robin Hood", "zipper"):
            assert ids(admin_client.get("/admin/tickets/ticket/", {"q": term})) == [one.pk], term
        assert ids(admin_client.get("/admin/tickets/ticket/", {"q": two.ref})) == [two.pk]

    def test_transcript_email_list_is_read_only(self, admin_client):
        ticket = ticket_with_transcript()
        email = TranscriptEmail.objects.create(ticket=ticket, to="sam@example.com", reason="auto", state="failed",
                                               attempts=2, last_error="refused")
        page = admin_client.get("/admin/tickets/transcriptemail/", {"state__exact": "failed"}).content.decode()
        assert ticket.ref in page and "refused" in page
        assert admin_client.get("/admin/tickets/transcriptemail/add/").status_code == 403
        assert admin_client.post(f"/admin/tickets/transcriptemail/{email.pk}/change/",
                                 {"to": "x@example.com"}).status_code == 403
        email.refresh_from_db()
        assert email.to == "sam@example.com"
        found = admin_client.get("/admin/tickets/transcriptemail/", {"q": ticket.ref}).content.decode()
        assert "sam@example.com" in found

    def test_ticket_list_shows_requester_labels_and_rating(self, admin_client):
        agent = AgentFactory()
        ticket = ticket_with_transcript(name="Robin <b>Hood</b>")
        ticket_services.label_add(ticket_id=ticket.pk, name="VIP", by=agent)
        ticket_services.rating_set(ticket_id=ticket.pk, rating="good")
        page = admin_client.get("/admin/tickets/ticket/").content.decode()
        row = page[page.index(f'value="{ticket.pk}"'):]
        row = row[:row.index("</tr>")]
        assert "Robin &lt;b&gt;Hood&lt;/b&gt;" in row and "sam@example.com" in row
        assert "VIP" in row and "Good" in row
        assert Ticket.objects.count() == 1
