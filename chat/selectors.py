"""Read queries shared by consumers and views."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q

from tickets.models import Department

from .models import Chat, ChatSettings, Message, PageView, RateLimit, Visitor, hash_token

RESUME_LIMIT = 1000  # rows per resume answer; a client with more to catch up asks again
JOURNEY_BEFORE_CHAT = timedelta(hours=24)
JOURNEY_LIMIT = 100
SETTINGS_CACHE_SECONDS = 3  # how soon another process sees an admin's change
TYPING_PREVIEW_CACHE_KEY = "chat:typing_preview"


def _chats():
    return Chat.objects.select_related("visitor", "agent", "department", "ticket")


def visitor_by_token(token: str) -> Visitor | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return Visitor.objects.filter(token_hash=hash_token(token)).first()


def visitor_current_chat(visitor_id: int) -> Chat | None:
    """The visitor's open chat, else the last one (so that a page reload still shows how it ended)."""
    chats = _chats().filter(visitor_id=visitor_id)
    return chats.exclude(status=Chat.Status.ENDED).first() or chats.order_by("-started_at").first()


def visitor_chat(visitor_id: int, chat_public_id: str) -> Chat | None:
    return _chats().filter(visitor_id=visitor_id, public_id=chat_public_id).first()


def agent_chat(chat_public_id: str) -> Chat | None:
    return _chats().filter(public_id=chat_public_id).first()


def agent_queue(agent_id: int) -> list[Chat]:
    """What an agent's console lists: chats waiting for anyone, and the agent's own active chats."""
    return list(
        _chats()
        .filter(Q(status=Chat.Status.QUEUED) | Q(status=Chat.Status.ACTIVE, agent_id=agent_id))
        .order_by("started_at")
    )


def agent_stars(agent_id: int, chats: list[Chat]) -> dict[str, str]:
    """The agent's own stars on these chats: chat ID -> colour."""
    from tickets.models import TicketStar

    by_ticket = dict(TicketStar.objects.filter(agent_id=agent_id, ticket_id__in=[c.ticket_id for c in chats])
                     .values_list("ticket_id", "colour"))
    return {c.public_id: by_ticket[c.ticket_id] for c in chats if c.ticket_id in by_ticket}


def agent_start_state(agent_id: int) -> tuple[list[Chat], dict[str, str]]:
    queue = agent_queue(agent_id)
    return queue, agent_stars(agent_id, queue)


def messages_between(chat_id: int, after_seq: int, up_to: int, limit: int) -> list[Message]:
    return list(Message.objects.select_related("attachment")
                .filter(chat_id=chat_id, seq__gt=after_seq, seq__lte=up_to).order_by("seq")[:limit])


def departments_on_offer() -> list[Department]:
    return list(Department.objects.filter(is_active=True))


def receipts_between(chat_id: int, after_seq: int, up_to: int) -> list[Message]:
    """Messages a client already has (seq <= after_seq) whose receipts changed in (after_seq, up_to]."""
    return list(
        Message.objects.filter(chat_id=chat_id, seq__lte=after_seq, receipt_seq__gt=after_seq,
                               receipt_seq__lte=up_to).order_by("seq")
    )


def chat_journey(chat: Chat) -> list[PageView]:
    """The pages the visitor viewed during the chat and in the day before it: how they came to ask."""
    views = PageView.objects.filter(visitor_id=chat.visitor_id, created_at__gte=chat.started_at - JOURNEY_BEFORE_CHAT)
    if chat.ended_at:
        views = views.filter(created_at__lte=chat.ended_at)
    return list(reversed(views.order_by("-created_at")[:JOURNEY_LIMIT]))


def typing_preview_enabled() -> bool:
    """The admin's choice, cached for a few seconds per process (read at every widget hello)."""
    value = cache.get(TYPING_PREVIEW_CACHE_KEY)
    if value is None:
        row = ChatSettings.objects.filter(pk=1).first()
        value = row.typing_preview if row else True
        cache.set(TYPING_PREVIEW_CACHE_KEY, value, SETTINGS_CACHE_SECONDS)
    return value


UPLOAD_SETTINGS_CACHE_KEY = "chat:upload_settings"


@dataclass(frozen=True)
class UploadSettings:
    max_bytes: int
    types: frozenset[str]  # ids of chat/attachments/kinds.py


def upload_settings() -> UploadSettings:
    """The admin's limits on files, cached for a few seconds per process as the typing preview is."""
    from .attachments import kinds

    value = cache.get(UPLOAD_SETTINGS_CACHE_KEY)
    if value is None:
        row = ChatSettings.objects.filter(pk=1).first() or ChatSettings()
        types = frozenset(t for t in row.upload_types.split(",") if t in kinds.BY_ID)
        value = UploadSettings(row.upload_max_mb * 1024 * 1024, types)
        cache.set(UPLOAD_SETTINGS_CACHE_KEY, value, SETTINGS_CACHE_SECONDS)
    return value


def rate_limit_rows() -> list[tuple[str, int | None, int | None]]:
    """The admin's settings of the rate limits: (name, limit, window seconds), None for the default.
    Cached by chat/limits.py for SETTINGS_CACHE_SECONDS, as the typing preview is here."""
    return list(RateLimit.objects.values_list("name", "limit", "window_seconds"))


def forget_cached_settings() -> None:
    cache.delete_many([TYPING_PREVIEW_CACHE_KEY, UPLOAD_SETTINGS_CACHE_KEY])


def visitor_start_state(visitor_id: int):
    """What a widget needs after hello: the visitor's chat, the departments on offer, and whether
    agents see drafts."""
    return visitor_current_chat(visitor_id), departments_on_offer(), typing_preview_enabled()


@dataclass(frozen=True)
class HistoryPage:
    """A resume answer: what changed in (after_seq, up_to]. ``more``: cut at RESUME_LIMIT messages."""

    messages: list[Message]
    receipts: list[Message]
    journey: list[PageView]
    up_to: int
    more: bool


def chat_history(chat: Chat, after_seq: int, *, for_agent: bool) -> HistoryPage:
    """The events after ``after_seq`` up to the chat's ``last_seq``, read first. Every seq up to
    that one is committed (a seq is taken under the chat row's lock and committed with its row), so
    the page holds all of them; the ones a client is not shown are simply not in it. Agents also get
    the receipts that changed in the range and the visitor's pages."""
    # Read now, not with ``chat``: the socket joined the chat's group since, and what was committed
    # in between must be in this page, since it did not come live.
    up_to = Chat.objects.filter(pk=chat.pk).values_list("last_seq", flat=True).first() or 0
    messages = messages_between(chat.pk, after_seq, up_to, RESUME_LIMIT)
    more = len(messages) == RESUME_LIMIT
    if more:
        up_to = messages[-1].seq
    if not for_agent:
        return HistoryPage(messages, [], [], up_to, more)
    receipts = receipts_between(chat.pk, after_seq, up_to)
    return HistoryPage(messages, receipts, chat_journey(chat), up_to, more)
