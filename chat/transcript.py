"""What a chat hands its ticket to keep when it ends: every message and system note, in seq order,
with its time, author and stored HTML, and the file a message carries (its ref, which the ticket
page links to and the ticket app signs links to for the email's recipient)."""

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


def _line(message: Message, chat: Chat) -> Line:
    file = message.attachment
    attached = {} if file is None else {
        "attachment_ref": file.ref, "attachment_name": file.name, "attachment_size": file.size,
        "attachment_type": file.content_type.split(";", 1)[0]}
    return Line(at=message.created_at, kind=_KIND[message.author_kind], author_name=_author(message, chat),
                text=message.text, html=message.html, **attached)


def lines_of(chat: Chat) -> list[Line]:
    messages = Message.objects.select_related("attachment").filter(chat_id=chat.pk).order_by("seq")
    return [_line(m, chat) for m in messages.iterator()]
