"""Every state change of the live chat. One transaction each; broadcasts go out after commit.

Services take plain values (ids, text) and an ``Actor`` saying who acts, check what may be done,
write, and register the broadcast with ``events.publish_*``. They raise a ``ChatError`` with a code
and a message a person can read when a request cannot be carried out.
"""

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from blocking import selectors as block_selectors
from blocking.networks import networks_of
from tickets import services as ticket_services
from tickets.models import Department, TranscriptEmail

from . import details, events, message_log, presence, rendering, selectors, transcript
from .errors import Blocked, ChatClosed, Conflict, InvalidInput, NotAllowed, NotFound
from .models import Chat, Message, PageView, Visitor, hash_token

MAX_MESSAGE_CHARS = 5000
MAX_NAME_CHARS = 100
MAX_URL_CHARS = 2000
MAX_TITLE_CHARS = 200
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: a visitor (by id) or an agent (a Django user)."""

    visitor_id: int | None = None
    agent: AbstractBaseUser | None = None

    @classmethod
    def for_visitor(cls, visitor_id: int) -> "Actor":
        return cls(visitor_id=visitor_id)

    @classmethod
    def for_agent(cls, user: AbstractBaseUser) -> "Actor":
        return cls(agent=user)

    @property
    def is_agent(self) -> bool:
        return self.agent is not None

    @property
    def display_name(self) -> str:
        if self.agent is not None:
            return self.agent.get_full_name() or self.agent.get_username()
        return ""


# --- Checks ---------------------------------------------------------------------------------------


def check_message_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("A message cannot be empty.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"A message can be at most {MAX_MESSAGE_CHARS:,} characters long.")
    return text.strip("\n")


def check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise InvalidInput("client_id must be 1 to 64 letters, digits or - _ . :")
    return client_id


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Please tell us your name.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"A name can be at most {MAX_NAME_CHARS} characters long.")
    return name


def check_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Please give a valid email address, so that we can reply.") from None
    return email


def check_not_blocked(*, visitor_id: int | None, email: str | None, ip: str | None) -> None:
    """Raise ``Blocked`` while the visitor, their address or their IP network is blocked (blocking/)."""
    block = block_selectors.block_for(visitor_id=visitor_id, email=email, ip=ip)
    if block is not None:
        raise Blocked(block.expires_at)


def check_department(department_id: int | None) -> Department | None:
    """With several departments on offer the visitor must pick one; with one it is implied."""
    offered = list(Department.objects.filter(is_active=True))
    if department_id is None:
        if len(offered) > 1:
            raise InvalidInput("Please choose a department.")
        return offered[0] if offered else None
    for department in offered:
        if department.pk == department_id:
            return department
    raise InvalidInput("That department does not take chats.")


def message_format(actor: Actor) -> str:
    """How a message's text becomes HTML: agents write Markdown, visitors plain text."""
    return rendering.MARKDOWN if actor.is_agent else rendering.PLAIN


def _next_seq(chat_id: int) -> int:
    """Take the chat's next seq. The UPDATE locks the chat row until commit, so seqs of one chat are
    handed out one at a time and never twice."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Chat._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [chat_id],
        )
        return cursor.fetchone()[0]


def _add_message(chat: Chat, *, author_kind: str, text: str, html: str, client_id: str | None = None,
                 agent: AbstractBaseUser | None = None, author_name: str = "", event: str = "",
                 acked: bool = False) -> Message:
    seq = _next_seq(chat.pk)
    chat.last_seq = seq
    message = Message.objects.create(
        chat=chat,
        seq=seq,
        author_kind=author_kind,
        author_agent=agent,
        author_name=author_name,
        event=event,
        client_id=client_id,
        text=text,
        html=html,
    )
    events.publish_message(message, chat, acked=acked)
    return message


def _system_note(chat: Chat, event: str, text: str) -> Message:
    """A note in the chat's own voice. It is made of names people typed, so it is escaped and never
    linkified: a visitor named "verify at https://…" must not put a link in the helpdesk's mouth."""
    return _add_message(chat, author_kind=Message.Author.SYSTEM, text=text, html=rendering.render_note(text),
                        event=event)


# --- Visitors -------------------------------------------------------------------------------------


@transaction.atomic
def visitor_register(*, language: str = "") -> tuple[Visitor, str]:
    """A new visitor and its token. The token is returned once and only its hash is kept."""
    token = secrets.token_urlsafe(32)
    visitor = Visitor.objects.create(token_hash=hash_token(token), language=language[:16])
    return visitor, token


# --- Chats ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    message: Message
    chat: Chat
    duplicate: bool


def _once_more_on_conflict(write, **kwargs):
    """Run a write; if it lost a race on a unique constraint (the same ``client_id`` sent twice at
    once), run it again in a fresh transaction, where it finds the winner's row and answers with it."""
    try:
        return write(**kwargs)
    except IntegrityError:
        return write(**kwargs)


def chat_start(*, visitor_id: int, name: str, email: str, department_id: int | None, text: str,
               client_id: str, ip_address: str | None = None, user_agent: str = "",
               language: str = "", rendered: rendering.Rendered | None = None) -> PostResult:
    """Open a chat with the visitor's first message. Sent again with the same ``client_id`` (the
    answer was lost), it answers with the chat already started. ``rendered``: the text's HTML made
    ahead, off the database thread (``calls.rendered``); made here when it is not given."""
    return _once_more_on_conflict(
        _chat_start, visitor_id=visitor_id, name=name, email=email, department_id=department_id, text=text,
        client_id=client_id, ip_address=ip_address, user_agent=user_agent, language=language, rendered=rendered,
    )


@transaction.atomic
def _chat_start(*, visitor_id, name, email, department_id, text, client_id, ip_address, user_agent,
                language, rendered) -> PostResult:
    name, email = check_name(name), check_email(email)
    text, client_id = check_message_text(text), check_client_id(client_id)
    html = rendering.html_of(rendered, rendering.PLAIN, text)
    department = check_department(department_id)
    check_not_blocked(visitor_id=visitor_id, email=email, ip=ip_address)
    visitor = Visitor.objects.select_for_update().get(pk=visitor_id)

    # Sent before (its answer was lost), also if that chat has ended since: answer with it and
    # announce it again, in case the first announcement was lost too.
    first = (Message.objects.filter(chat__visitor_id=visitor.pk, client_id=client_id)
             .select_related("chat__visitor", "chat__agent", "chat__department", "chat__ticket")
             .order_by("-chat_id").first())
    if first is not None:
        events.publish_message(first, first.chat, acked=True)
        events.publish_chat_changed(first.chat)
        return PostResult(first, first.chat, duplicate=True)
    if visitor.chats.exclude(status=Chat.Status.ENDED).exists():
        raise Conflict("You already have a chat open.")

    visitor.name, visitor.email = name, email
    if language:
        visitor.language = language[:16]
    visitor.last_seen_at = timezone.now()
    visitor.save(update_fields=["name", "email", "language", "last_seen_at"])

    ticket = ticket_services.ticket_open(
        subject=text.splitlines()[0][:200], requester_name=name, requester_email=email,
        department=department, language=visitor.language,
    )
    chat = Chat.objects.create(
        visitor=visitor, ticket=ticket, department=department,
        ip_address=ip_address, user_agent=(user_agent or "")[:400],
    )
    message = _add_message(chat, author_kind=Message.Author.VISITOR, text=text, html=html, client_id=client_id,
                           author_name=name, acked=True)
    events.publish_chat_changed(chat)
    return PostResult(message, chat, duplicate=False)


def message_post(*, chat_public_id: str, actor: Actor, client_id: str, text: str,
                 rendered: rendering.Rendered | None = None, ip: str | None = None) -> PostResult:
    """Post a message. The same ``client_id`` twice stores it once, answers with the stored one and
    broadcasts it again, also after the chat has ended (a client resending its outbox after a reconnect).

    The hot path: checks in Python, then one write (``message_log.append``) that takes the seq and
    inserts the row, and the broadcast once it is committed. ``rendered`` is the text's HTML made
    ahead, off the database thread (``calls.rendered``); without it the HTML is made here. A text past
    the rendering limits is refused (``InvalidInput``) before anything is written. ``ip``: the
    visitor's address, whose network may be blocked (``Blocked``), as may the visitor and their email."""
    client_id = check_client_id(client_id)
    text = check_message_text(text)
    if actor.is_agent:
        kind, writer_column, writer_id, agent_id, name = (
            Message.Author.AGENT, "agent_id", actor.agent.pk, actor.agent.pk, actor.display_name)
    else:
        kind, writer_column, writer_id, agent_id, name = (
            Message.Author.VISITOR, "visitor_id", actor.visitor_id, None, None)
    html = rendering.html_of(rendered, message_format(actor), text)
    try:
        row = message_log.append(chat_public_id=chat_public_id, writer_column=writer_column, writer_id=writer_id,
                                 author_kind=kind, agent_id=agent_id, author_name=name, client_id=client_id,
                                 text=text, html=html, networks=None if actor.is_agent else networks_of(ip))
    except IntegrityError:  # a resend raced its twin, which won
        row = None
    if row is None:
        stored = _stored_message(chat_public_id, actor, client_id)
        if stored is not None:
            # Broadcast again: the resend may be the repair of a broadcast that was lost.
            events.publish_message(stored.message, stored.chat, acked=True)
            return stored
        _explain_refusal(chat_public_id, actor, ip=ip)
    # What the broadcast and the answer need; nothing is read back.
    chat = Chat(pk=row.chat_id, public_id=chat_public_id, visitor_id=row.visitor_id, last_seq=row.seq)
    message = Message(pk=row.message_id, chat=chat, seq=row.seq, author_kind=kind, author_agent_id=agent_id,
                      author_name=row.author_name, client_id=client_id, text=text, html=html,
                      created_at=row.created_at)
    # Committed already: the write ran in autocommit or in its own atomic block.
    events.publish_message(message, chat, acked=True)
    return PostResult(message, chat, duplicate=False)


def _explain_refusal(chat_public_id: str, actor: Actor, *, ip: str | None = None):
    """The write took no seq: say why, in words the sender can act on."""
    chat = _chat_for(actor, chat_public_id)
    if not actor.is_agent:
        check_not_blocked(visitor_id=chat.visitor_id, email=chat.visitor.email, ip=ip)
    if chat.status == Chat.Status.ENDED:
        raise ChatClosed("This chat has ended. Start a new chat to write again.")
    if actor.is_agent and chat.agent_id != actor.agent.pk:
        raise NotAllowed("Accept the chat before you reply to it.")
    raise Conflict("This message could not be stored. Please send it again.")


def _stored_message(chat_public_id: str, actor: Actor, client_id: str) -> PostResult | None:
    try:
        chat = _chat_for(actor, chat_public_id)
    except NotFound:
        return None
    message = (Message.objects.select_related("attachment").filter(chat_id=chat.pk, client_id=client_id)
               .order_by().first())
    return PostResult(message, chat, duplicate=True) if message else None


@transaction.atomic
def chat_accept(*, chat_public_id: str, agent: AbstractBaseUser) -> Chat:
    """An agent takes a waiting chat. Of two agents who accept at once, one gets it."""
    now = timezone.now()
    taken = Chat.objects.filter(public_id=chat_public_id, status=Chat.Status.QUEUED).update(
        status=Chat.Status.ACTIVE, agent=agent, accepted_at=now
    )
    chat = _chat_for(Actor.for_agent(agent), chat_public_id)
    if not taken:
        if chat.status == Chat.Status.ENDED:
            raise ChatClosed("This chat has already ended.")
        if chat.agent_id == agent.pk:
            return chat
        raise Conflict(f"{events.agent_display_name(chat.agent)} has already accepted this chat.")
    ticket_services.ticket_assign(ticket_id=chat.ticket_id, agent=agent)
    name = Actor.for_agent(agent).display_name
    _system_note(chat, "accepted", f"{name} joined the chat.")
    events.publish_chat_changed(chat)
    publish_details(chat)
    return chat


@transaction.atomic
def chat_end(*, chat_public_id: str, actor: Actor) -> Chat:
    """End a chat. The visitor can end their own chat; an agent the chat assigned to them, or a chat
    still waiting in the queue. Ending an ended chat changes nothing."""
    chat = _chat_for(actor, chat_public_id, lock=True)
    if chat.status == Chat.Status.ENDED:
        return chat
    if actor.is_agent and chat.status == Chat.Status.ACTIVE and chat.agent_id != actor.agent.pk:
        raise NotAllowed("Only the agent in this chat can end it.")
    who = actor.display_name if actor.is_agent else (chat.visitor.name or "The visitor")
    _end(chat, f"{who} ended the chat.", by=actor.agent)
    return chat


@transaction.atomic
def chat_end_gone(*, chat_public_id: str, cutoff, now=None) -> bool:
    """End a chat whose visitor has had no widget open since before ``cutoff``, checked again under
    the chat's lock (the visitor may have come back since the sweep's query). True if it ended."""
    chat = (Chat.objects.select_for_update(of=("self",)).select_related("visitor", "agent", "department", "ticket")
            .filter(public_id=chat_public_id).first())
    if chat is None or chat.status == Chat.Status.ENDED:
        return False
    visitor = chat.visitor
    seen = visitor.last_seen_at or chat.started_at
    if seen >= cutoff or presence.state_of(visitor, now) != presence.GONE:
        return False
    minutes = max(1, round(((now or timezone.now()) - seen).total_seconds() / 60))
    _end(chat, f"The chat ended: {visitor.name or 'the visitor'} left {minutes} minutes ago.", by=None)
    return True


def _end(chat: Chat, note: str, *, by: AbstractBaseUser | None) -> None:
    """End the chat, resolve its ticket, store the transcript on it and ask for the transcript email
    (sent by a task after commit: SMTP down never delays nor undoes this)."""
    chat.status = Chat.Status.ENDED
    chat.ended_at = timezone.now()
    chat.save(update_fields=["status", "ended_at"])
    _system_note(chat, "ended", note)
    ticket_services.transcript_store(ticket_id=chat.ticket_id, lines=transcript.lines_of(chat))
    ticket_services.ticket_resolve(ticket_id=chat.ticket_id, by=by, detail=note)
    ticket_services.transcript_email_request(ticket_id=chat.ticket_id, reason=TranscriptEmail.Reason.AUTOMATIC,
                                             to=chat.visitor.email or None)
    events.publish_chat_changed(chat)
    publish_details(chat)


def publish_details(chat: Chat) -> None:
    """Tell the chat's agents its header and pane changed (``details`` without the personal parts),
    read once the change has committed: not while the transaction holds the chat's row, for which the
    chat's messages would wait."""
    public_id = chat.public_id

    def read_and_publish():
        found = details.chat_details(public_id, agent_id=None, choices=False)
        if found is not None:
            events.publish_details(found)

    transaction.on_commit(read_and_publish, robust=True)


def _chat_for(actor: Actor, chat_public_id: str, *, lock: bool = False) -> Chat:
    """The chat, if the actor may see it: agents see every chat, a visitor only their own. ``lock``:
    hold the chat's row until commit (one state change at a time)."""
    query = Chat.objects.select_related("visitor", "agent", "department", "ticket")
    if lock:
        query = query.select_for_update(of=("self",))
    if not actor.is_agent:
        query = query.filter(visitor_id=actor.visitor_id)
    chat = query.filter(public_id=chat_public_id).first()
    if chat is None:
        raise NotFound("No such chat.")
    return chat


# --- Presence: receipts and page views ------------------------------------------------------------


@transaction.atomic
def messages_mark(*, chat_public_id: str, visitor_id: int, delivered_up_to: int, read_up_to: int) -> int | None:
    """The visitor's widget got (``delivered_up_to``) and showed (``read_up_to``) the agent's messages
    up to these seqs. Each time is stored once; a change takes a chat seq and is broadcast to the
    chat's agents. Returns that seq, or None when nothing changed."""
    chat = _chat_for(Actor.for_visitor(visitor_id), chat_public_id)
    delivered_up_to = max(delivered_up_to, read_up_to)
    agent_messages = Message.objects.filter(chat_id=chat.pk, author_kind=Message.Author.AGENT)
    to_deliver = agent_messages.filter(seq__lte=delivered_up_to, delivered_at__isnull=True)
    to_read = agent_messages.filter(seq__lte=read_up_to, read_at__isnull=True)
    if not (to_deliver.exists() or to_read.exists()):
        return None
    seq = _next_seq(chat.pk)
    now = timezone.now()
    changed = to_deliver.update(delivered_at=now, receipt_seq=seq) + to_read.update(read_at=now, receipt_seq=seq)
    if not changed:  # a receipt sent at the same moment from another tab marked them first
        transaction.set_rollback(True)  # and give the seq back: no seq without an event
        return None
    events.publish_receipt(chat, seq, list(agent_messages.filter(receipt_seq=seq)))
    return seq


def check_page_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("Only http and https page addresses are recorded.")
    return url[:MAX_URL_CHARS]


@transaction.atomic
def page_view_record(*, visitor_id: int, url: str, title: str = "") -> PageView | None:
    """A page of the embedding site the visitor is looking at. The same page reported again (a
    replaceState that changed nothing) is not recorded twice. Returns None in that case. How many
    may be reported is chat/limits.py's to say (per visitor and per address), before this is called."""
    url = check_page_url(url)
    title = " ".join((title or "").split())[:MAX_TITLE_CHARS]
    last = PageView.objects.filter(visitor_id=visitor_id).order_by("-created_at", "-pk").first()
    if last is not None and (last.url, last.title) == (url, title):
        return None
    chat = (Chat.objects.filter(visitor_id=visitor_id).exclude(status=Chat.Status.ENDED)
            .order_by("-started_at").first())
    view = PageView.objects.create(visitor_id=visitor_id, chat=chat, url=url, title=title)
    if chat is not None:
        events.publish_page_view(view, chat)
    return view


# --- Typing: checked like every action, forwarded without being stored ------------------------------


@dataclass(frozen=True)
class TypingRight:
    """May this socket's typing reach the other side of this chat now, and how: ``preview`` says
    whether agents may see a visitor's draft text (the admin's setting, as it is now)."""

    chat_pk: int
    visitor_id: int
    preview: bool


def _typing_chat(query, chat_public_id: str) -> dict:
    chat = query.filter(public_id=chat_public_id).values("pk", "status", "visitor_id", "agent_id").first()
    if chat is None:
        raise NotFound("No such chat.")
    if chat["status"] == Chat.Status.ENDED:
        raise ChatClosed("This chat has ended.")
    return chat


def typing_check_visitor(*, visitor_id: int, chat_public_id: str) -> TypingRight:
    """A visitor's draft: their own chat, not ended."""
    chat = _typing_chat(Chat.objects.filter(visitor_id=visitor_id), chat_public_id)
    return TypingRight(chat["pk"], chat["visitor_id"], selectors.typing_preview_enabled())


def typing_check_agent(*, agent: AbstractBaseUser, chat_public_id: str) -> TypingRight:
    """"Agent is typing…": only the agent the chat is assigned to, and only while it is active."""
    chat = _typing_chat(Chat.objects.all(), chat_public_id)
    if chat["status"] != Chat.Status.ACTIVE or chat["agent_id"] != agent.pk:
        raise NotAllowed("Only the agent answering this chat is shown typing.")
    return TypingRight(chat["pk"], chat["visitor_id"], False)


def chat_settings_changed() -> None:
    """An admin saved the chat settings: every process reads them again and open widgets are told."""
    selectors.forget_cached_settings()
    events.publish_settings(typing_preview=selectors.typing_preview_enabled())
