"""Services of visitor presence: is the visitor online, away (the page in a background tab) or gone?

Across processes, in the database: each open widget socket counts itself in ``Visitor.sockets_open``
and writes ``last_seen_at`` at hello and every ``HEARTBEAT_SECONDS`` after. A visitor is gone when no
socket is open or none has written for ``GONE_SECONDS`` (a process that died without saying so). A
chat whose visitor has been gone for the admin's ``visitor_gone_minutes`` ends by itself
(``chats_end_gone_visitors``, run every minute by the beat sweep).

A change of state is told to the agents of the visitor's open chat (``presence`` frames).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from . import events
from .models import Chat, ChatSettings, Visitor

HEARTBEAT_SECONDS = 30
GONE_SECONDS = 75  # two heartbeats and some: one late write is not a departure

ONLINE, AWAY, GONE = "online", "away", "gone"


def state_of(visitor: Visitor, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if (not visitor.sockets_open or visitor.last_seen_at is None
            or visitor.last_seen_at < now - timedelta(seconds=GONE_SECONDS)):
        return GONE
    return AWAY if visitor.tab_hidden else ONLINE


def _open_chat(visitor_id: int) -> Chat | None:
    return (Chat.objects.filter(visitor_id=visitor_id).exclude(status=Chat.Status.ENDED)
            .only("pk", "public_id", "visitor_id").first())


def _tell(visitor: Visitor, before: str, now: datetime) -> str:
    after = state_of(visitor, now)
    if after != before:
        chat = _open_chat(visitor.pk)
        if chat is not None:
            events.publish_presence(chat, after, visitor.last_seen_at)
    return after


@transaction.atomic
def visitor_arrived(*, visitor_id: int) -> str:
    """A widget socket said hello. A count left high by a process that died is started again."""
    now = timezone.now()
    visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
    before = state_of(visitor, now)
    visitor.sockets_open = 1 if before == GONE else visitor.sockets_open + 1
    visitor.last_seen_at = now
    visitor.save(update_fields=["sockets_open", "last_seen_at"])
    return _tell(visitor, before, now)


@transaction.atomic
def visitor_seen(*, visitor_id: int, hidden: bool | None = None) -> str:
    """A heartbeat of an open socket, or the widget saying its page went to the background
    (``hidden``) or came back."""
    now = timezone.now()
    visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
    before = state_of(visitor, now)
    fields = ["last_seen_at"]
    visitor.last_seen_at = now
    if not visitor.sockets_open:  # a heartbeat from a socket the count lost (its process restarted)
        visitor.sockets_open = 1
        fields.append("sockets_open")
    if hidden is not None and hidden != visitor.tab_hidden:
        visitor.tab_hidden = hidden
        fields.append("tab_hidden")
    visitor.save(update_fields=fields)
    return _tell(visitor, before, now)


@transaction.atomic
def visitor_left(*, visitor_id: int) -> str:
    """A widget socket closed."""
    now = timezone.now()
    visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
    before = state_of(visitor, now)
    Visitor.objects.filter(pk=visitor_id).update(
        sockets_open=Case(When(sockets_open__gt=0, then=F("sockets_open") - 1), default=Value(0)),
        last_seen_at=now,
    )
    visitor.refresh_from_db(fields=["sockets_open", "last_seen_at"])
    return _tell(visitor, before, now)


def gone_minutes() -> int:
    row = ChatSettings.objects.filter(pk=1).only("visitor_gone_minutes").first()
    return row.visitor_gone_minutes if row else ChatSettings._meta.get_field("visitor_gone_minutes").default


def chats_end_gone_visitors(*, now: datetime | None = None) -> int:
    """End every open chat whose visitor has been gone for the admin's ``visitor_gone_minutes``: no
    widget socket open and none seen since. Returns how many ended. Each ends in its own transaction
    (``services.chat_end_gone``), which checks again under the lock."""
    from .services import chat_end_gone  # services use this module's state_of

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=gone_minutes())
    candidates = (Chat.objects.exclude(status=Chat.Status.ENDED)
                  .filter(visitor__last_seen_at__lt=cutoff).values_list("public_id", flat=True))
    # A visitor never seen (a chat made before presence was kept) counts from the chat's start.
    never_seen = (Chat.objects.exclude(status=Chat.Status.ENDED)
                  .filter(visitor__last_seen_at__isnull=True, started_at__lt=cutoff)
                  .values_list("public_id", flat=True))
    ended = 0
    for public_id in [*candidates, *never_seen]:
        if chat_end_gone(chat_public_id=public_id, cutoff=cutoff, now=now):
            ended += 1
    return ended
