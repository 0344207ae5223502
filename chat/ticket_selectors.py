"""What the ticket pages (console and Django admin) read from chats: a ticket's chat, the live
conversation of a chat whose transcript is not stored yet, and the other tickets of the same person.

Tickets know nothing of chats, so these reads live here, on the side that points at the ticket.
"""

from django.db.models import Q

from tickets.models import Ticket
from tickets.services import Line

from . import transcript
from .models import Chat

OTHER_TICKETS_LIMIT = 20


def chat_of_ticket(ticket_id: int) -> Chat | None:
    return Chat.objects.select_related("visitor", "agent").filter(ticket_id=ticket_id).first()


def chat_conversation(chat: Chat) -> list[Line]:
    """The chat's messages and system notes in order, as the transcript its end will store
    (``html`` is what the server sanitised when each was saved)."""
    return transcript.lines_of(chat)


def other_tickets(ticket: Ticket, chat: Chat | None) -> list[Ticket]:
    """The other tickets of the same person, newest first: those of the chat's visitor (the widget's
    token, whatever name they gave) and those with the same requester address. Each has ``chat``, its
    chat or None."""
    same = Q()
    if chat is not None:
        same |= Q(pk__in=Chat.objects.filter(visitor_id=chat.visitor_id).values("ticket_id"))
    if ticket.requester_email:
        same |= Q(requester_email__iexact=ticket.requester_email)
    if not same:
        return []
    tickets = list(Ticket.objects.filter(same).exclude(pk=ticket.pk).order_by("-created_at", "-pk")
                   [:OTHER_TICKETS_LIMIT])
    chats = {c.ticket_id: c for c in Chat.objects.filter(ticket_id__in=[t.pk for t in tickets])}
    for other in tickets:
        other.chat = chats.get(other.pk)
    return tickets
