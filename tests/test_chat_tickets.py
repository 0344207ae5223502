"""A chat's ticket: what ending a chat keeps, labels, stars, department, assignee, rating, presence and
the visitor-gone timeout (with a controlled clock)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from chat import details, presence, services, ticket_actions
from chat.errors import ChatClosed, InvalidInput, NotAllowed
from chat.models import Chat, ChatSettings, Visitor
from chat.services import Actor
from tickets.models import Label, Ticket, TicketEvent, TicketStar, TranscriptEmail, TranscriptLine

from .factories import AgentFactory, DepartmentFactory, UserFactory, VisitorFactory, start_chat

pytestmark = pytest.mark.django_db


def accepted_chat(agent=None, **kwargs):
    agent = agent or AgentFactory(first_name="Alex", last_name="Agent")
    chat = start_chat(**kwargs)
    services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    return Chat.objects.get(pk=chat.pk), agent


def say(chat, actor, text, client_id):
    return services.message_post(chat_public_id=chat.public_id, actor=actor, client_id=client_id, text=text)


def kinds(ticket):
    return list(ticket.timeline.values_list("kind", flat=True))


class TestEndingStoresTheTranscript:
    def test_every_message_and_note_in_order_with_times(self):
        chat, agent = accepted_chat(text="My parcel is late")
        say(chat, Actor.for_agent(agent), "Let me **check**", "a1")
        say(chat, Actor.for_visitor(chat.visitor_id), "<b>thanks</b>", "v2")
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))

        lines = list(TranscriptLine.objects.filter(ticket_id=chat.ticket_id))
        assert [(line.position, line.kind) for line in lines] == [
            (1, "visitor"), (2, "system"), (3, "agent"), (4, "visitor"), (5, "system")]
        assert lines[0].author_name == "Sam Visitor" and lines[0].text == "My parcel is late"
        assert lines[2].author_name == "Alex Agent" and "<strong>check</strong>" in lines[2].html
        assert "&lt;b&gt;thanks&lt;/b&gt;" in lines[3].html, "visitor text stays escaped in the record"
        assert lines[4].text == "Alex Agent ended the chat."
        assert all(line.at is not None for line in lines)
        assert [line.at for line in lines] == sorted(line.at for line in lines)

    def test_resolves_the_ticket_and_asks_for_the_email_once(self):
        chat, agent = accepted_chat()
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))  # ending twice: nothing more
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.status == Ticket.Status.RESOLVED and ticket.resolved_at is not None
        assert ticket.transcript_stored_at is not None
        emails = list(ticket.transcript_emails.all())
        assert [(e.to, e.reason) for e in emails] == [("sam@example.com", "auto")]
        assert kinds(ticket).count(TicketEvent.Kind.TRANSCRIPT_STORED) == 1
        assert TicketEvent.Kind.RESOLVED in kinds(ticket)

    def test_email_is_asked_for_only_after_commit(self, django_capture_on_commit_callbacks):
        chat, agent = accepted_chat()
        with django_capture_on_commit_callbacks() as callbacks:
            services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        # The task is among the callbacks (it runs after commit), not run inside the transaction.
        assert any("_send" in repr(getattr(c, "func", c)) for c in callbacks)

    def test_a_rolled_back_end_enqueues_nothing(self, django_capture_on_commit_callbacks):
        chat, agent = accepted_chat()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError):
                with transaction.atomic():
                    services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
                    raise RuntimeError("after the end, before the commit")
        assert callbacks == []
        assert not TranscriptEmail.objects.filter(ticket_id=chat.ticket_id).exists()
        assert Chat.objects.get(pk=chat.pk).status == Chat.Status.ACTIVE

    def test_no_email_stores_the_transcript_and_says_nothing_was_sent(self):
        chat, agent = accepted_chat()
        Visitor.objects.filter(pk=chat.visitor_id).update(email="")
        Ticket.objects.filter(pk=chat.ticket_id).update(requester_email="")
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.transcript.count() == 3
        assert not ticket.transcript_emails.exists()
        skipped = ticket.timeline.get(kind=TicketEvent.Kind.EMAIL_SKIPPED)
        assert "no email address" in skipped.detail
        # What the console's pane shows.
        assert details.chat_details(chat.public_id, agent_id=agent.pk).transcript_skipped == skipped.detail
        with pytest.raises(InvalidInput, match="no email address"):
            ticket_actions.transcript_send(chat_public_id=chat.public_id, agent=agent)

    def test_a_department_can_turn_automatic_transcripts_off(self):
        quiet = DepartmentFactory(name="Billing", send_transcripts=False)
        chat, agent = accepted_chat(department=quiet)
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(chat.visitor_id))
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert not ticket.transcript_emails.exists()
        assert "does not email transcripts" in ticket.timeline.get(kind=TicketEvent.Kind.EMAIL_SKIPPED).detail
        assert "does not email" in details.chat_details(chat.public_id, agent_id=agent.pk).transcript_skipped
        # An agent can still send it, and the visitor ask for it.
        ticket_actions.transcript_send(chat_public_id=chat.public_id, agent=agent)
        assert details.chat_details(chat.public_id, agent_id=agent.pk).transcript_skipped is None
        assert ticket_actions.transcript_request(chat_public_id=chat.public_id,
                                                 visitor_id=chat.visitor_id) == "sam@example.com"
        assert sorted(ticket.transcript_emails.values_list("reason", flat=True)) == ["agent", "visitor"]

    def test_the_same_request_at_once_is_answered_by_the_email_on_its_way(self):
        chat, agent = accepted_chat()
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        first = ticket_actions.transcript_send(chat_public_id=chat.public_id, agent=agent)
        assert ticket_actions.transcript_send(chat_public_id=chat.public_id, agent=agent) == first
        ticket_actions.transcript_request(chat_public_id=chat.public_id, visitor_id=chat.visitor_id)
        reasons = TranscriptEmail.objects.filter(ticket_id=chat.ticket_id).values_list("reason", flat=True)
        assert sorted(reasons) == ["agent", "auto", "visitor"]
        a_while_ago(chat)
        assert ticket_actions.transcript_send(chat_public_id=chat.public_id, agent=agent) != first

    def test_transcript_again_only_after_the_end_and_not_endlessly(self):
        chat, agent = accepted_chat()
        with pytest.raises(InvalidInput, match="when the chat ends"):
            ticket_actions.transcript_request(chat_public_id=chat.public_id, visitor_id=chat.visitor_id)
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(agent))
        for _ in range(5):
            ticket_actions.transcript_request(chat_public_id=chat.public_id, visitor_id=chat.visitor_id)
            a_while_ago(chat)
        with pytest.raises(InvalidInput, match="several times"):
            ticket_actions.transcript_request(chat_public_id=chat.public_id, visitor_id=chat.visitor_id)


def a_while_ago(chat):
    """The chat's transcript emails were asked for a minute ago: a request now is a new one."""
    TranscriptEmail.objects.filter(ticket_id=chat.ticket_id).update(
        requested_at=timezone.now() - timedelta(minutes=1))


class TestLabels:
    def test_trimmed_unique_per_ticket_whatever_the_case(self):
        chat, agent = accepted_chat()
        assert ticket_actions.chat_label(chat_public_id=chat.public_id, agent=agent, add="  Billing   issue ") == [
            "Billing issue"]
        assert ticket_actions.chat_label(chat_public_id=chat.public_id, agent=agent, add="BILLING ISSUE") == [
            "Billing issue"]
        assert ticket_actions.chat_label(chat_public_id=chat.public_id, agent=agent, add="vip") == [
            "Billing issue", "vip"]
        assert Label.objects.count() == 2
        assert ticket_actions.chat_label(chat_public_id=chat.public_id, agent=agent, remove="Vip") == [
            "Billing issue"]
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert kinds(ticket).count(TicketEvent.Kind.LABELLED) == 2
        assert kinds(ticket).count(TicketEvent.Kind.UNLABELLED) == 1

    @pytest.mark.parametrize("bad, message", [
        ("   ", "cannot be empty"), ("x" * 33, "at most 32"), ("tab\u0007bell", "printable"),
    ])
    def test_bad_labels_are_refused_clearly(self, bad, message):
        chat, agent = accepted_chat()
        with pytest.raises(InvalidInput, match=message):
            ticket_actions.chat_label(chat_public_id=chat.public_id, agent=agent, add=bad)
        assert not Label.objects.exists()

    def test_an_existing_label_is_reused_and_suggested(self):
        first, agent = accepted_chat()
        ticket_actions.chat_label(chat_public_id=first.public_id, agent=agent, add="Refund")
        second = start_chat(VisitorFactory())
        ticket_actions.chat_label(chat_public_id=second.public_id, agent=agent, add="refund")
        assert Label.objects.count() == 1
        assert details.label_suggestions() == ["Refund"]


class TestStars:
    def test_a_star_is_the_agents_own(self):
        chat, alex = accepted_chat()
        sam = AgentFactory()
        ticket_actions.chat_star(chat_public_id=chat.public_id, agent=alex, colour="red")
        assert details.chat_details(chat.public_id, agent_id=alex.pk).star == "red"
        assert details.chat_details(chat.public_id, agent_id=sam.pk).star is None
        ticket_actions.chat_star(chat_public_id=chat.public_id, agent=alex, colour="blue")
        assert TicketStar.objects.get().colour == "blue"
        ticket_actions.chat_star(chat_public_id=chat.public_id, agent=alex, colour=None)
        assert not TicketStar.objects.exists()

    def test_only_the_offered_colours(self):
        chat, alex = accepted_chat()
        with pytest.raises(InvalidInput, match="yellow"):
            ticket_actions.chat_star(chat_public_id=chat.public_id, agent=alex, colour="#ff0000")


class TestDepartmentAndAssignee:
    def test_department_moves_chat_and_ticket_together(self):
        chat, agent = accepted_chat()
        billing = DepartmentFactory(name="Billing", is_active=False)  # agents may move to any department
        ticket_actions.chat_department(chat_public_id=chat.public_id, agent=agent, department_id=billing.pk)
        chat.refresh_from_db()
        assert chat.department_id == billing.pk == Ticket.objects.get(pk=chat.ticket_id).department_id
        with pytest.raises(InvalidInput, match="no such department"):
            ticket_actions.chat_department(chat_public_id=chat.public_id, agent=agent, department_id=999999)

    def test_transfer_keeps_one_assignee(self):
        chat, alex = accepted_chat()
        sam = AgentFactory(first_name="Sam", last_name="Second")
        ticket_actions.chat_assign(chat_public_id=chat.public_id, agent=alex, to_agent_id=sam.pk)
        chat.refresh_from_db()
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert chat.agent_id == ticket.assigned_agent_id == sam.pk
        assert chat.messages.order_by("-seq").first().text == "Alex Agent transferred the chat to Sam Second."
        with pytest.raises(NotAllowed, match="Only the agent in this chat"):
            ticket_actions.chat_assign(chat_public_id=chat.public_id, agent=alex, to_agent_id=alex.pk)

    def test_a_waiting_chat_is_assigned_by_any_agent(self):
        chat = start_chat()
        alex, sam = AgentFactory(first_name="Alex", last_name="A"), AgentFactory(first_name="Sam", last_name="S")
        ticket_actions.chat_assign(chat_public_id=chat.public_id, agent=alex, to_agent_id=sam.pk)
        chat.refresh_from_db()
        assert (chat.status, chat.agent_id) == (Chat.Status.ACTIVE, sam.pk)
        assert chat.accepted_at is not None
        assert Ticket.objects.get(pk=chat.ticket_id).assigned_agent_id == sam.pk

    def test_only_agents_can_be_assigned_and_not_after_the_end(self):
        chat, alex = accepted_chat()
        with pytest.raises(InvalidInput, match="choose an agent"):
            ticket_actions.chat_assign(chat_public_id=chat.public_id, agent=alex, to_agent_id=UserFactory().pk)
        services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_agent(alex))
        with pytest.raises(ChatClosed):
            ticket_actions.chat_assign(chat_public_id=chat.public_id, agent=alex, to_agent_id=AgentFactory().pk)


class TestRating:
    def test_rating_is_stored_and_replaced(self):
        chat, agent = accepted_chat()
        ticket_actions.chat_rate(chat_public_id=chat.public_id, visitor_id=chat.visitor_id, rating="bad",
                                 comment="  slow  ")
        ticket_actions.chat_rate(chat_public_id=chat.public_id, visitor_id=chat.visitor_id, rating="good")
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert (ticket.rating, ticket.rating_comment) == ("good", "")
        assert kinds(ticket).count(TicketEvent.Kind.RATED) == 2

    @pytest.mark.parametrize("rating, comment, message", [
        ("great", "", "'good' or 'bad'"), ("good", "x" * 1001, "at most 1,000"),
    ])
    def test_bad_ratings_are_refused(self, rating, comment, message):
        chat, agent = accepted_chat()
        with pytest.raises(InvalidInput, match=message):
            ticket_actions.chat_rate(chat_public_id=chat.public_id, visitor_id=chat.visitor_id, rating=rating,
                                     comment=comment)

    def test_only_the_chats_own_visitor_rates(self):
        chat, agent = accepted_chat()
        with pytest.raises(Exception, match="No such chat"):
            ticket_actions.chat_rate(chat_public_id=chat.public_id, visitor_id=VisitorFactory().pk, rating="bad")


class TestPresence:
    def test_online_away_gone(self):
        visitor = VisitorFactory()
        assert presence.visitor_arrived(visitor_id=visitor.pk) == presence.ONLINE
        assert presence.visitor_arrived(visitor_id=visitor.pk) == presence.ONLINE  # a second tab
        assert presence.visitor_hidden(visitor_id=visitor.pk, hidden=True) == presence.ONLINE, "one tab in front"
        assert presence.visitor_hidden(visitor_id=visitor.pk, hidden=True) == presence.AWAY  # both hidden
        assert presence.visitor_hidden(visitor_id=visitor.pk, hidden=False) == presence.ONLINE
        assert presence.visitor_left(visitor_id=visitor.pk, hidden=False) == presence.AWAY  # the hidden one stays
        assert presence.visitor_left(visitor_id=visitor.pk, hidden=True) == presence.GONE
        back = Visitor.objects.get(pk=visitor.pk)
        assert (back.sockets_open, back.sockets_hidden) == (0, 0)
        assert presence.visitor_arrived(visitor_id=visitor.pk) == presence.ONLINE

    def test_closing_a_hidden_tab_leaves_the_one_in_front_online(self):
        visitor = VisitorFactory()
        presence.visitor_arrived(visitor_id=visitor.pk)
        presence.visitor_arrived(visitor_id=visitor.pk)
        presence.visitor_hidden(visitor_id=visitor.pk, hidden=True)
        assert presence.visitor_left(visitor_id=visitor.pk, hidden=True) == presence.ONLINE

    def test_a_heartbeat_is_one_write_for_all_that_keeps_the_visitors_here(self, django_assert_num_queries):
        visitors = [VisitorFactory() for _ in range(3)]
        for visitor in visitors:
            presence.visitor_arrived(visitor_id=visitor.pk)
        Visitor.objects.update(last_seen_at=timezone.now() - timedelta(seconds=60))
        with django_assert_num_queries(1):
            presence.visitors_seen(visitor_ids=[v.pk for v in visitors])
        soon = timezone.now() + timedelta(seconds=presence.GONE_SECONDS - 5)
        assert {presence.state_of(v, soon) for v in Visitor.objects.all()} == {presence.ONLINE}

    def test_a_count_left_by_a_dead_process_goes_stale(self):
        visitor = VisitorFactory()
        presence.visitor_arrived(visitor_id=visitor.pk)
        visitor.refresh_from_db()
        later = timezone.now() + timedelta(seconds=presence.GONE_SECONDS + 1)
        assert presence.state_of(visitor, later) == presence.GONE
        Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=timezone.now() - timedelta(minutes=5),
                                                     sockets_hidden=1)
        presence.visitor_arrived(visitor_id=visitor.pk)
        again = Visitor.objects.get(pk=visitor.pk)
        assert (again.sockets_open, again.sockets_hidden) == (1, 0), "the counts start again"


class TestVisitorGone:
    def gone_since(self, chat, minutes_ago, now):
        Visitor.objects.filter(pk=chat.visitor_id).update(sockets_open=0,
                                                           last_seen_at=now - timedelta(minutes=minutes_ago))

    def test_ends_at_the_admins_timeout_not_before(self):
        ChatSettings.objects.create(visitor_gone_minutes=10)
        now = timezone.now()
        chat, agent = accepted_chat()
        self.gone_since(chat, 10, now + timedelta(seconds=1))  # gone 9 min 59 s at ``now``
        assert presence.chats_end_gone_visitors(now=now) == 0
        assert Chat.objects.get(pk=chat.pk).status == Chat.Status.ACTIVE
        assert presence.chats_end_gone_visitors(now=now + timedelta(seconds=2)) == 1
        chat.refresh_from_db()
        assert chat.status == Chat.Status.ENDED
        note = chat.messages.order_by("-seq").first()
        assert note.event == "ended" and "left 10 minutes ago" in note.text
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.status == Ticket.Status.RESOLVED and ticket.transcript.exists()

    def test_an_open_widget_keeps_the_chat(self):
        now = timezone.now()
        chat, agent = accepted_chat()
        # A count left high by a process that died, with nothing seen for 11 minutes: gone all the same.
        Visitor.objects.filter(pk=chat.visitor_id).update(sockets_open=1, last_seen_at=now - timedelta(minutes=11))
        assert presence.chats_end_gone_visitors(now=now) == 1
        # A widget open now (its heartbeat keeps last_seen fresh) keeps its chat.
        fresh, _ = accepted_chat(visitor=VisitorFactory())
        presence.visitor_arrived(visitor_id=fresh.visitor_id)
        assert presence.chats_end_gone_visitors(now=timezone.now()) == 0
        assert Chat.objects.get(pk=fresh.pk).status == Chat.Status.ACTIVE


class TestDetails:
    def test_what_the_header_and_pane_show(self):
        ua = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Mobile/15E148 Safari/604.1")
        visitor = VisitorFactory()
        earlier = start_chat(visitor, client_id="e1")
        services.chat_end(chat_public_id=earlier.public_id, actor=Actor.for_visitor(visitor.pk))
        chat, agent = accepted_chat(visitor=visitor, client_id="n1", ip_address="203.0.113.7", user_agent=ua)
        found = details.chat_details(chat.public_id, agent_id=agent.pk)
        assert found.device == details.Device("Mobile Safari 17.1", "iOS 17.1", "iPhone")
        assert [c.public_id for c in found.earlier] == [earlier.public_id]
        assert found.presence == presence.GONE
        assert agent in found.agents
        assert found.ticket.assigned_agent_id == agent.pk

    def test_a_desktop_browser_and_no_user_agent(self):
        firefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
        assert details.device_of(firefox) == details.Device("Firefox 120.0", "Ubuntu", "Computer")
        assert details.device_of("") == details.Device("Unknown", "Unknown", "Unknown")
