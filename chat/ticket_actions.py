"""Services an agent or the visitor asks for on a chat's ticket: labels, stars, department, assignee
(assign and transfer), the transcript email again, and the visitor's rating.

Like chat/services.py: one transaction each, checks with readable errors, broadcasts after commit.
The ticket's own rules (what a label may be, who was assigned when) are tickets.services'; a
``TicketError`` from there comes back as the chat's own ``InvalidInput``/``NotFound``.
"""

from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tickets import services as ticket_services
from tickets.errors import TicketError, TicketNotFound
from tickets.models import TranscriptEmail

from . import events
from .errors import ChatClosed, InvalidInput, NotAllowed, NotFound
from .models import Chat
from .permissions import is_agent
from .services import Actor, _chat_for, _system_note, publish_details


@contextmanager
def _ticket_errors():
    try:
        yield
    except TicketNotFound as exc:
        raise NotFound(exc.message) from None
    except TicketError as exc:
        raise InvalidInput(exc.message) from None


def _agent_chat(agent: AbstractBaseUser, chat_public_id: str) -> Chat:
    return _chat_for(Actor.for_agent(agent), chat_public_id, lock=True)


@transaction.atomic
def chat_label(*, chat_public_id: str, agent: AbstractBaseUser, add: str | None = None,
               remove: str | None = None) -> list[str]:
    """Add or remove one label of the chat's ticket; any agent may, also after the chat ended."""
    chat = _agent_chat(agent, chat_public_id)
    with _ticket_errors():
        if add is not None:
            labels = ticket_services.label_add(ticket_id=chat.ticket_id, name=add, by=agent)
        else:
            labels = ticket_services.label_remove(ticket_id=chat.ticket_id, name=remove, by=agent)
    publish_details(chat)
    return labels


@transaction.atomic
def chat_star(*, chat_public_id: str, agent: AbstractBaseUser, colour: str | None) -> str | None:
    """The agent's own star on the chat (its ticket), or None to take it off. Only their consoles hear."""
    chat = _chat_for(Actor.for_agent(agent), chat_public_id)
    with _ticket_errors():
        colour = ticket_services.star_set(ticket_id=chat.ticket_id, agent=agent, colour=colour)
    events.publish_star(agent.pk, chat.public_id, colour)
    return colour


@transaction.atomic
def chat_department(*, chat_public_id: str, agent: AbstractBaseUser, department_id: int | None) -> Chat:
    """Move the chat and its ticket to another department (or none)."""
    chat = _agent_chat(agent, chat_public_id)
    with _ticket_errors():
        ticket = ticket_services.ticket_department_set(ticket_id=chat.ticket_id, department_id=department_id,
                                                       by=agent)
    if chat.department_id != ticket.department_id:
        chat.department = ticket.department
        chat.save(update_fields=["department"])
        if chat.status != Chat.Status.ENDED:
            events.publish_chat_changed(chat)
    publish_details(chat)
    return chat


def _assignable(agent_id: int) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=agent_id).first()
    if user is None or not is_agent(user):
        raise InvalidInput("That person cannot answer chats: choose an agent.")
    return user


@transaction.atomic
def chat_assign(*, chat_public_id: str, agent: AbstractBaseUser, to_agent_id: int) -> Chat:
    """Give the chat to an agent: a waiting chat is assigned (any agent may), an active one
    transferred (by the agent who has it). The chat's agent and the ticket's assignee change together:
    they cannot disagree. The new agent's consoles are told at once."""
    chat = _agent_chat(agent, chat_public_id)
    if chat.status == Chat.Status.ENDED:
        raise ChatClosed("This chat has ended: reopen its ticket to follow it up.")
    if chat.status == Chat.Status.ACTIVE and chat.agent_id != agent.pk:
        raise NotAllowed("Only the agent in this chat can transfer it.")
    target = _assignable(to_agent_id)
    if chat.agent_id == target.pk:
        return chat
    by, to = Actor.for_agent(agent).display_name, Actor.for_agent(target).display_name
    transferred = chat.status == Chat.Status.ACTIVE
    Chat.objects.filter(pk=chat.pk).update(status=Chat.Status.ACTIVE, agent=target,
                                           accepted_at=chat.accepted_at or timezone.now())
    chat.refresh_from_db(fields=["status", "agent", "accepted_at"])
    with _ticket_errors():
        ticket_services.ticket_assign(ticket_id=chat.ticket_id, agent=target, by=agent)
    if target.pk == agent.pk:
        _system_note(chat, "accepted", f"{to} joined the chat.")
    elif transferred:
        _system_note(chat, "transferred", f"{by} transferred the chat to {to}.")
    else:
        _system_note(chat, "assigned", f"{by} assigned the chat to {to}.")
    events.publish_chat_changed(chat)
    if target.pk != agent.pk:
        events.publish_assigned(chat, target.pk, by)
    publish_details(chat)
    return chat


@transaction.atomic
def transcript_send(*, chat_public_id: str, agent: AbstractBaseUser) -> TranscriptEmail | None:
    """An agent sends the transcript of an ended chat again, to the email the visitor gave. None, with
    the reason on the ticket's timeline, when there is no address."""
    chat = _agent_chat(agent, chat_public_id)
    if chat.status != Chat.Status.ENDED:
        raise InvalidInput("The transcript is made when the chat ends.")
    with _ticket_errors():
        email = ticket_services.transcript_email_request(ticket_id=chat.ticket_id,
                                                         reason=TranscriptEmail.Reason.AGENT, by=agent,
                                                         to=chat.visitor.email or None)
    if email is None:
        raise InvalidInput("Nothing was sent: the visitor gave no email address.")
    publish_details(chat)
    return email


@transaction.atomic
def transcript_request(*, chat_public_id: str, visitor_id: int) -> str:
    """The visitor asks for the transcript of their ended chat again. Returns the address it goes to."""
    chat = _chat_for(Actor.for_visitor(visitor_id), chat_public_id, lock=True)
    if chat.status != Chat.Status.ENDED:
        raise InvalidInput("The transcript is sent when the chat ends.")
    with _ticket_errors():
        email = ticket_services.transcript_email_request(ticket_id=chat.ticket_id,
                                                         reason=TranscriptEmail.Reason.VISITOR,
                                                         to=chat.visitor.email or None)
    if email is None:
        raise InvalidInput("We have no email address to send it to.")
    publish_details(chat)
    return email.to


@transaction.atomic
def chat_rate(*, chat_public_id: str, visitor_id: int, rating: str, comment: str = "") -> None:
    """The visitor rates their chat, good or bad, with an optional comment; again replaces it. Told to
    the chat's agents."""
    chat = _chat_for(Actor.for_visitor(visitor_id), chat_public_id, lock=True)
    with _ticket_errors():
        ticket = ticket_services.rating_set(ticket_id=chat.ticket_id, rating=rating, comment=comment,
                                            by_name=chat.visitor.name)
    events.publish_rated(chat, ticket.rating, ticket.rating_comment)
    publish_details(chat)


def transcript_email_changed(sender, *, ticket_id: int, **kwargs) -> None:
    """A transcript email of this ticket was sent or failed (tickets.signals): its chat's agents see
    it in the pane (from the worker process too, through the channel layer)."""
    chat = Chat.objects.filter(ticket_id=ticket_id).only("pk", "public_id").first()
    if chat is not None:
        publish_details(chat)
