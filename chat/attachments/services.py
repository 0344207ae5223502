"""Posting a file as a message. The file is checked and stored before (``views``, off the database
thread); here it becomes a message like any other, through the same write as a text
(``message_log.append``): the same checks (chat open, the writer its visitor or its agent, the
``client_id`` not seen yet), the chat's next seq, the same broadcast. An upload sent again with the
same ``client_id`` (its answer was lost) is stored once and answered with the first one."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from blocking.networks import networks_of
from chat import events, message_log, rendering
from chat.attachments.intake import Prepared
from chat.errors import ChatClosed, NotAllowed
from chat.models import Attachment, Chat, Message
from chat.services import (
    Actor,
    PostResult,
    _chat_for,
    _explain_refusal,
    _stored_message,
    check_client_id,
    check_not_blocked,
)


@dataclass(frozen=True)
class Stored:
    """Where a prepared file's bytes went (``storage``)."""

    key: str
    thumbnail_key: str = ""


def attachment_precheck(*, chat_public_id: str, actor: Actor, client_id: str,
                        ip: str | None = None) -> PostResult | Chat:
    """Before the upload is read: the message already stored under this ``client_id`` (broadcast
    again, as a resent text is), or the chat it may go to. Raises what a send would."""
    client_id = check_client_id(client_id)
    stored = _stored_message(chat_public_id, actor, client_id)
    if stored is not None:
        events.publish_message(stored.message, stored.chat, acked=False)
        return stored
    chat = _chat_for(actor, chat_public_id)
    if not actor.is_agent:
        check_not_blocked(visitor_id=chat.visitor_id, email=chat.visitor.email, ip=ip)
    if chat.status == Chat.Status.ENDED:
        raise ChatClosed("This chat has ended. Start a new chat to send files.")
    if actor.is_agent and chat.agent_id != actor.agent.pk:
        raise NotAllowed("Accept the chat before you send files in it.")
    return chat


def attachment_post(*, chat: Chat, actor: Actor, client_id: str, prepared: Prepared, stored: Stored,
                    ip: str | None = None) -> PostResult:
    """The message that carries the file. ``duplicate``: another upload with this ``client_id`` won
    (the caller then removes its own stored bytes)."""
    client_id = check_client_id(client_id)
    result = _post(chat, actor, client_id, prepared, stored, networks_of(ip))
    if result is not None:
        return result
    found = _stored_message(chat.public_id, actor, client_id)
    if found is not None:
        events.publish_message(found.message, found.chat, acked=False)
        return found
    _explain_refusal(chat.public_id, actor, ip=ip)


def _post(chat: Chat, actor: Actor, client_id: str, prepared: Prepared, stored: Stored,
          networks: list[str]) -> PostResult | None:
    agent = actor.agent
    with transaction.atomic():
        attachment = Attachment.objects.create(
            chat_id=chat.pk, uploader_kind="agent" if agent else "visitor", uploader_agent=agent,
            name=prepared.name, kind=Attachment.Kind.IMAGE if prepared.kind.image else Attachment.Kind.FILE,
            type_id=prepared.kind.id, content_type=prepared.kind.content_type, size=prepared.size,
            sha256=prepared.sha256, width=prepared.width, height=prepared.height,
            thumbnail_width=prepared.thumbnail_size[0] if prepared.thumbnail_size else None,
            thumbnail_height=prepared.thumbnail_size[1] if prepared.thumbnail_size else None,
            storage_key=stored.key, thumbnail_key=stored.thumbnail_key,
        )
        html = rendering.render_note(prepared.name)  # a name: escaped, never linkified
        if agent is not None:
            writer = ("agent_id", agent.pk, Message.Author.AGENT, agent.pk, actor.display_name)
        else:
            writer = ("visitor_id", actor.visitor_id, Message.Author.VISITOR, None, None)
        column, writer_id, kind, agent_id, name = writer
        try:
            row = message_log.append(chat_public_id=chat.public_id, writer_column=column, writer_id=writer_id,
                                     author_kind=kind, agent_id=agent_id, author_name=name, client_id=client_id,
                                     text=prepared.name, html=html, attachment_id=attachment.pk,
                                     networks=None if agent else networks)
        except IntegrityError:  # the same upload, sent twice at once: the other one won
            row = None
        if row is None:
            transaction.set_rollback(True)  # and the attachment row goes with it
            return None
        sent = Chat(pk=row.chat_id, public_id=chat.public_id, visitor_id=row.visitor_id, last_seq=row.seq)
        message = Message(pk=row.message_id, chat=sent, seq=row.seq, author_kind=kind, author_agent_id=agent_id,
                          author_name=row.author_name, client_id=client_id, text=prepared.name, html=html,
                          attachment=attachment, created_at=row.created_at)
        events.publish_message(message, sent, acked=False)
    return PostResult(message, sent, duplicate=False)
