"""The wire protocol's incoming side: every frame a client may send, parsed and checked here.

``parse(text, frames)`` returns a typed frame or raises ``ProtocolError`` (answered with an error
event; the socket stays open). Business rules (who may post where, message length) stay in the
services. docs/protocol.md documents the same frames.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

MAX_FRAME_BYTES = 32 * 1024
MAX_CHAT_ID_CHARS = 32
MAX_TOKEN_CHARS = 100
MAX_DRAFT_CHARS = 5000  # like a message
MAX_URL_CHARS = 8192  # what a frame may carry; the service keeps the first 2,000
MAX_TITLE_CHARS = 1000  # likewise; 200 are kept
MAX_DEPTH = 4  # no frame nests deeper than an object in an object; more is refused before it is read
MAX_INT_DIGITS = 15
MAX_COMMENT_CHARS = 2000  # a rating comment; the service keeps at most 1,000, saying so past that
MAX_BLOCK_REASON_CHARS = 1000  # the service says its own, lower limit in words
MAX_LABEL_FIELD_CHARS = 200  # a label; the service trims it and allows 32

# Text the database cannot store or a client cannot show: NUL, and UTF-16 surrogates without their
# pair (JSON can spell them as "\ud800"; they are not characters and cannot be encoded as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.about: Refused | None = None  # what could be read of a refused frame, for the error event


_SAFE_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Refused:
    """The type, ``client_id`` and chat of a frame refused while its fields were read, so that the
    error names them and the client can drop that message from its outbox. Only values that are safe
    to send back are kept."""

    WIRE_TYPE: str
    client_id: str | None
    chat: str | None

    @classmethod
    def of(cls, kind: str, data: dict) -> "Refused":
        def safe(value):
            return value if isinstance(value, str) and _SAFE_REF.match(value) else None

        return cls(kind, safe(data.get("client_id")), safe(data.get("chat")))


# --- Frames ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    WIRE_TYPE: ClassVar[str] = "hello"
    token: str | None
    language: str


@dataclass(frozen=True)
class ChatStart:
    WIRE_TYPE: ClassVar[str] = "chat.start"
    name: str
    email: str
    department: int | None
    text: str
    client_id: str


@dataclass(frozen=True)
class MessageSend:
    WIRE_TYPE: ClassVar[str] = "message.send"
    chat: str
    client_id: str
    text: str


@dataclass(frozen=True)
class ChatRef:
    """A frame that names one chat and nothing else (end, accept, unwatch)."""

    chat: str


@dataclass(frozen=True)
class ChatEnd(ChatRef):
    WIRE_TYPE: ClassVar[str] = "chat.end"


@dataclass(frozen=True)
class ChatAccept(ChatRef):
    WIRE_TYPE: ClassVar[str] = "chat.accept"


@dataclass(frozen=True)
class ChatUnwatch(ChatRef):
    WIRE_TYPE: ClassVar[str] = "chat.unwatch"


@dataclass(frozen=True)
class Resume:
    """Send me the chat's state and every event after ``after_seq``. Agents send it as ``chat.watch``,
    which also subscribes them to the chat's live events."""

    WIRE_TYPE: ClassVar[str] = "resume"
    chat: str
    after_seq: int


@dataclass(frozen=True)
class ChatWatch(Resume):
    WIRE_TYPE: ClassVar[str] = "chat.watch"


@dataclass(frozen=True)
class Ping:
    WIRE_TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True)
class VisitorTyping:
    """The visitor's draft; an empty text clears it."""

    WIRE_TYPE: ClassVar[str] = "typing"
    chat: str
    text: str


@dataclass(frozen=True)
class AgentTyping:
    WIRE_TYPE: ClassVar[str] = "typing"
    chat: str
    active: bool


@dataclass(frozen=True)
class Receipt:
    WIRE_TYPE: ClassVar[str] = "receipt"
    chat: str
    delivered_up_to: int
    read_up_to: int


@dataclass(frozen=True)
class PageViewReport:
    WIRE_TYPE: ClassVar[str] = "page.view"
    url: str
    title: str


@dataclass(frozen=True)
class Presence:
    """The widget's page went to the background (``hidden``) or came back."""

    WIRE_TYPE: ClassVar[str] = "presence"
    hidden: bool


@dataclass(frozen=True)
class ChatRate:
    WIRE_TYPE: ClassVar[str] = "chat.rate"
    chat: str
    rating: str
    comment: str


@dataclass(frozen=True)
class TranscriptRequest(ChatRef):
    """The visitor asks for the transcript of their ended chat by email again."""

    WIRE_TYPE: ClassVar[str] = "transcript.request"


@dataclass(frozen=True)
class ChatDetails(ChatRef):
    WIRE_TYPE: ClassVar[str] = "chat.details"


@dataclass(frozen=True)
class ChatLabel:
    """Add one label to the chat's ticket, or remove one: exactly one of the two."""

    WIRE_TYPE: ClassVar[str] = "chat.label"
    chat: str
    add: str | None
    remove: str | None


@dataclass(frozen=True)
class ChatStar:
    WIRE_TYPE: ClassVar[str] = "chat.star"
    chat: str
    colour: str | None


@dataclass(frozen=True)
class ChatAssign:
    WIRE_TYPE: ClassVar[str] = "chat.assign"
    chat: str
    agent: int


@dataclass(frozen=True)
class ChatDepartment:
    WIRE_TYPE: ClassVar[str] = "chat.department"
    chat: str
    department: int | None


@dataclass(frozen=True)
class MessagePreview:
    """An agent's draft reply, to be shown as the server will format it; ``ref`` comes back with it."""

    WIRE_TYPE: ClassVar[str] = "message.preview"
    text: str
    ref: str


@dataclass(frozen=True)
class TranscriptSend(ChatRef):
    """An agent sends an ended chat's transcript to the visitor again."""

    WIRE_TYPE: ClassVar[str] = "transcript.send"


@dataclass(frozen=True)
class VisitorBlock:
    """An agent blocks the chat's visitor (and their address), and with ``ip`` their IP network."""

    WIRE_TYPE: ClassVar[str] = "visitor.block"
    chat: str
    reason: str
    ip: bool


# --- Field readers --------------------------------------------------------------------------------


def _missing(key: str) -> ProtocolError:
    return ProtocolError("invalid", f"Field '{key}' is required.")


def _str(data: dict, key: str, *, max_len: int, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _missing(key)
        return None
    if not isinstance(value, str):
        raise ProtocolError("invalid", f"Field '{key}' must be a string.")
    if len(value) > max_len:
        raise ProtocolError("invalid", f"Field '{key}' is longer than {max_len} characters.")
    return _storable(key, value)


def _text(data: dict, key: str) -> str:
    """Message text: its length is a business rule checked by the service, with a readable error.
    The frame size limit bounds it here."""
    value = data.get(key)
    if value is None:
        raise _missing(key)
    if not isinstance(value, str):
        raise ProtocolError("invalid", f"Field '{key}' must be a string.")
    return _storable(key, value)


def _storable(key: str, value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ProtocolError("invalid", f"Field '{key}' holds a character that cannot be stored "
                            "(a NUL or half of a surrogate pair).")
    return value


def _int(data: dict, key: str, *, required: bool = True, minimum: int = 0) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _missing(key)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("invalid", f"Field '{key}' must be a whole number.")
    if value < minimum or value > 2**31:
        raise ProtocolError("invalid", f"Field '{key}' is out of range.")
    return value


def _chat(data: dict) -> str:
    return _str(data, "chat", max_len=MAX_CHAT_ID_CHARS)


# --- One parser per frame type --------------------------------------------------------------------


def parse_hello(data: dict) -> Hello:
    return Hello(
        token=_str(data, "token", max_len=MAX_TOKEN_CHARS, required=False),
        language=_str(data, "language", max_len=16, required=False) or "",
    )


def parse_chat_start(data: dict) -> ChatStart:
    return ChatStart(
        name=_str(data, "name", max_len=200),
        email=_str(data, "email", max_len=254),
        department=_int(data, "department", required=False),
        text=_text(data, "text"),
        client_id=_str(data, "client_id", max_len=64),
    )


def parse_message_send(data: dict) -> MessageSend:
    return MessageSend(chat=_chat(data), client_id=_str(data, "client_id", max_len=64), text=_text(data, "text"))


def parse_resume(data: dict) -> Resume:
    return Resume(chat=_chat(data), after_seq=_int(data, "after_seq"))


def parse_chat_watch(data: dict) -> ChatWatch:
    return ChatWatch(chat=_chat(data), after_seq=_int(data, "after_seq", required=False) or 0)


def parse_visitor_typing(data: dict) -> VisitorTyping:
    text = _text(data, "text")
    if len(text) > MAX_DRAFT_CHARS:
        raise ProtocolError("invalid", f"A draft can be at most {MAX_DRAFT_CHARS:,} characters long.")
    return VisitorTyping(chat=_chat(data), text=text)


def parse_agent_typing(data: dict) -> AgentTyping:
    active = data.get("active")
    if not isinstance(active, bool):
        raise ProtocolError("invalid", "Field 'active' must be true or false.")
    return AgentTyping(chat=_chat(data), active=active)


def parse_receipt(data: dict) -> Receipt:
    delivered = _int(data, "delivered_up_to", required=False) or 0
    read = _int(data, "read_up_to", required=False) or 0
    return Receipt(chat=_chat(data), delivered_up_to=delivered, read_up_to=read)


def parse_page_view(data: dict) -> PageViewReport:
    return PageViewReport(url=_str(data, "url", max_len=MAX_URL_CHARS),
                          title=_str(data, "title", max_len=MAX_TITLE_CHARS, required=False) or "")


def _bool(data: dict, key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ProtocolError("invalid", f"Field '{key}' must be true or false.")
    return value


def parse_chat_rate(data: dict) -> ChatRate:
    """The words of the rating are the service's to check; their length is bounded here."""
    return ChatRate(chat=_chat(data), rating=_str(data, "rating", max_len=10),
                    comment=_str(data, "comment", max_len=MAX_COMMENT_CHARS, required=False) or "")


def parse_chat_label(data: dict) -> ChatLabel:
    add = _str(data, "add", max_len=MAX_LABEL_FIELD_CHARS, required=False)
    remove = _str(data, "remove", max_len=MAX_LABEL_FIELD_CHARS, required=False)
    if (add is None) == (remove is None):
        raise ProtocolError("invalid", "Give exactly one of 'add' and 'remove'.")
    return ChatLabel(chat=_chat(data), add=add, remove=remove)


def parse_chat_star(data: dict) -> ChatStar:
    if "colour" not in data:
        raise _missing("colour")
    return ChatStar(chat=_chat(data), colour=_str(data, "colour", max_len=16, required=False))


def parse_chat_department(data: dict) -> ChatDepartment:
    if "department" not in data:
        raise _missing("department")
    return ChatDepartment(chat=_chat(data), department=_int(data, "department", required=False, minimum=1))


VISITOR_FRAMES: dict[str, Callable[[dict], object]] = {
    "hello": parse_hello,
    "chat.start": parse_chat_start,
    "message.send": parse_message_send,
    "chat.end": lambda d: ChatEnd(_chat(d)),
    "resume": parse_resume,
    "typing": parse_visitor_typing,
    "receipt": parse_receipt,
    "page.view": parse_page_view,
    "presence": lambda d: Presence(_bool(d, "hidden")),
    "chat.rate": parse_chat_rate,
    "transcript.request": lambda d: TranscriptRequest(_chat(d)),
    "ping": lambda d: Ping(),
}

AGENT_FRAMES: dict[str, Callable[[dict], object]] = {
    "chat.watch": parse_chat_watch,
    "chat.unwatch": lambda d: ChatUnwatch(_chat(d)),
    "chat.accept": lambda d: ChatAccept(_chat(d)),
    "message.send": parse_message_send,
    "chat.end": lambda d: ChatEnd(_chat(d)),
    "typing": parse_agent_typing,
    "chat.details": lambda d: ChatDetails(_chat(d)),
    "chat.label": parse_chat_label,
    "chat.star": parse_chat_star,
    "chat.assign": lambda d: ChatAssign(_chat(d), _int(d, "agent", minimum=1)),
    "chat.department": parse_chat_department,
    "transcript.send": lambda d: TranscriptSend(_chat(d)),
    "visitor.block": lambda d: VisitorBlock(_chat(d), _str(d, "reason", max_len=MAX_BLOCK_REASON_CHARS),
                                            _bool(d, "ip") if "ip" in d else False),
    "message.preview": lambda d: MessagePreview(_text(d, "text"), _str(d, "ref", max_len=64, required=False) or ""),
    "ping": lambda d: Ping(),
}


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("integer too long")
    return int(digits)


_decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_bounded_int)


def _too_deep(text: str) -> bool:
    """Brackets opened deeper than MAX_DEPTH, counted outside strings. Only frames with nesting pay
    for the walk, and it runs before the parser, which would otherwise recurse on them."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse(text: str | None, frames: dict[str, Callable[[dict], object]]) -> object:
    """Parse one text frame into a typed value, or raise ``ProtocolError``."""
    if text is None:
        raise ProtocolError("bad_frame", "Frames must be JSON text, not binary.")
    if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError("too_large", f"A frame can be at most {MAX_FRAME_BYTES // 1024} KiB.")
    if _too_deep(text):
        raise ProtocolError("bad_json", f"A frame can nest at most {MAX_DEPTH} levels deep.")
    try:
        data = _decoder.decode(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "A frame must be a JSON object (plain numbers, no NaN or Infinity, "
                            f"integers of at most {MAX_INT_DIGITS} digits).") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "A frame must be a JSON object.")
    kind = data.get("type")
    parser = frames.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError("unknown_type", f"Unknown frame type {kind!r}." if kind else "Field 'type' is required.")
    try:
        return parser(data)
    except ProtocolError as refused:
        refused.about = Refused.of(kind, data)
        raise
