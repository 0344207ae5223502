"""Read queries shared by consumers and views."""

from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q

from tickets.models import Department

from .models import Chat, ChatSettings, Message, PageView, Visitor, hash_token

RESUME_LIMIT = 1000  # rows per resume answer; a client with more to catch up asks again
JOURNEY_BEFORE_CHAT = timedelta(hours=24)
JOURNEY_LIMIT = 100
SETTINGS_CACHE_SECONDS = 10
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


def messages_after(chat_id: int, after_seq: int, limit: int = RESUME_LIMIT) -> list[Message]:
    return list(Message.objects.filter(chat_id=chat_id, seq__gt=after_seq).order_by("seq")[:limit])


def departments_on_offer() -> list[Department]:
    return list(Department.objects.filter(is_active=True))


def receipts_after(chat_id: int, after_seq: int) -> list[Message]:
    """Messages a client already has (seq <= after_seq) whose receipts changed after it."""
    return list(
        Message.objects.filter(chat_id=chat_id, seq__lte=after_seq, receipt_seq__gt=after_seq).order_by("seq")
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


def forget_cached_settings() -> None:
    cache.delete(TYPING_PREVIEW_CACHE_KEY)


def visitor_start_state(visitor_id: int):
    """What a widget needs after hello: the visitor's chat, the departments on offer, and whether
    agents see drafts."""
    return visitor_current_chat(visitor_id), departments_on_offer(), typing_preview_enabled()


def chat_history(chat: Chat, after_seq: int, *, for_agent: bool):
    """A resume answer: the messages after ``after_seq``; for agents also the receipts that changed
    after it and the visitor's pages."""
    messages = messages_after(chat.pk, after_seq)
    if not for_agent:
        return messages, [], []
    return messages, receipts_after(chat.pk, after_seq), chat_journey(chat)
