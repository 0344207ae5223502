"""What a chat hands its ticket to keep when it ends: every message and system note, in seq order,
with its time, author and stored HTML (attachments, once chats carry them, as links the ticket app
signs for the email's recipient)."""

from tickets.models import TranscriptLine
from tickets.services import Line

from .models import Chat, Message

_KIND = {
    Message.Author.VISITOR: TranscriptLine.Kind.VISITOR,
    Message.Author.AGENT: TranscriptLine.Kind.AGENT,
    Message.Author.SYSTEM: TranscriptLine.Kind.SYSTEM,
}


def _author(message: Message, chat: Chat) -> str:
    if message.author_kind == Message.Author.SYSTEM:
        return ""
    if message.author_kind == Message.Author.VISITOR:
        return message.author_name or chat.visitor.name or "Visitor"
    return message.author_name or "Agent"


def lines_of(chat: Chat) -> list[Line]:
    messages = Message.objects.filter(chat_id=chat.pk).order_by("seq")
    return [Line(at=m.created_at, kind=_KIND[m.author_kind], author_name=_author(m, chat), text=m.text, html=m.html)
            for m in messages.iterator()]
