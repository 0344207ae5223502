"""Read queries shared by consumers and views."""

from django.db.models import Q

from tickets.models import Department

from .models import Chat, Message, Visitor, hash_token

RESUME_LIMIT = 1000  # rows per resume answer; a client with more to catch up asks again


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
