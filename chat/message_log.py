"""Appending a message to a chat's log: take the chat's next seq and insert the row, at once.

This is the hot path of the product, so it is written in SQL. On PostgreSQL it is one statement in
autocommit (a data-modifying CTE): one round trip, the chat row locked only while it runs. Elsewhere
(SQLite, the embedded default) it is two statements in one transaction.

The seq UPDATE carries the checks, so that a refused or repeated message costs nothing: the chat
must be open, the writer must be its visitor (or its assigned agent), no message of the chat may
have this ``client_id`` yet, and, for a visitor, no open block may name the visitor, their address or
their IP network (blocking/: ``block_for`` asks the same in Python). No row back means one of those
failed; the caller finds out which. The block check costs a few index probes of a small table inside
the same statement: no round trip more.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from blocking.models import Block

from .models import Chat, Message, Visitor


@dataclass(frozen=True)
class Appended:
    message_id: int
    chat_id: int
    seq: int
    visitor_id: int
    author_name: str
    created_at: datetime


WRITER_COLUMNS = ("visitor_id", "agent_id")

_TABLES = {"chat": Chat._meta.db_table, "message": Message._meta.db_table, "visitor": Visitor._meta.db_table,
           "block": Block._meta.db_table}

NETWORKS = 4  # the networks a visitor's address may be blocked as (blocking.networks.networks_of), padded

_TAKE_SEQ = """
    UPDATE {chat} SET last_seq = last_seq + 1
    WHERE public_id = %(chat)s AND status <> 'ended' AND {writer} = %(writer)s
      AND NOT EXISTS (SELECT 1 FROM {message} m WHERE m.chat_id = {chat}.id AND m.client_id = %(client_id)s)
      AND (%(check_blocks)s = 0 OR NOT EXISTS (
        SELECT 1 FROM {block} b
        WHERE b.ended_at IS NULL AND b.expires_at > %(now)s
          AND ((b.kind = 'visitor' AND b.value = CAST({chat}.visitor_id AS TEXT))
            OR (b.kind = 'email' AND b.value = (SELECT lower(v.email) FROM {visitor} v WHERE v.id = {chat}.visitor_id))
            OR (b.kind = 'ip' AND b.value IN (%(net0)s, %(net1)s, %(net2)s, %(net3)s)))))
    RETURNING id, last_seq, visitor_id
"""

_INSERT_COLUMNS = ("chat_id, seq, author_kind, author_agent_id, author_name, event, client_id, text, html, created_at, "
                   "attachment_id")

# The author's name: the agent's, given; a visitor's, read from the visitor row in the same statement.
_AUTHOR_NAME = "COALESCE(%(name)s, (SELECT name FROM {visitor} v WHERE v.id = s.visitor_id), '')"

_ONE_STATEMENT = f"""
    WITH s AS ({_TAKE_SEQ})
    INSERT INTO {{message}} ({_INSERT_COLUMNS})
    SELECT s.id, s.last_seq, %(kind)s, %(agent)s, {_AUTHOR_NAME}, '', %(client_id)s, %(text)s, %(html)s, %(now)s,
           %(attachment)s
    FROM s
    RETURNING id, chat_id, seq, (SELECT visitor_id FROM s), author_name
"""

_INSERT = f"""
    INSERT INTO {{message}} ({_INSERT_COLUMNS})
    SELECT s.id, s.seq, %(kind)s, %(agent)s, {_AUTHOR_NAME}, '', %(client_id)s, %(text)s, %(html)s, %(now)s,
           %(attachment)s
    FROM (SELECT %(chat_id)s AS id, %(seq)s AS seq, %(visitor_id)s AS visitor_id) s
    RETURNING id, chat_id, seq, author_name
"""


def append(*, chat_public_id: str, writer_column: str, writer_id: int, author_kind: str, agent_id: int | None,
           author_name: str | None, client_id: str, text: str, html: str,
           attachment_id: int | None = None, networks: list[str] | None = None) -> Appended | None:
    """The stored message, or None if the chat is not open to this writer, already has this
    ``client_id``, or (a visitor) is blocked. May raise IntegrityError when two sends of one
    ``client_id`` race. ``attachment_id``: the file this message carries (chat/attachments/services.py).
    ``networks``: the visitor's IP networks (``blocking.networks.networks_of``)."""
    if writer_column not in WRITER_COLUMNS:
        raise ValueError(writer_column)
    now = timezone.now()
    params = {"chat": chat_public_id, "writer": writer_id, "client_id": client_id, "kind": author_kind,
              "agent": agent_id, "name": author_name, "text": text, "html": html, "now": now,
              "attachment": attachment_id, "check_blocks": int(writer_column == "visitor_id")}
    padded = list(networks or ())[:NETWORKS]
    params.update({f"net{i}": padded[i] if i < len(padded) else "" for i in range(NETWORKS)})
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:  # inside a caller's transaction: a failure must not end it
            with transaction.atomic():
                row = _run_prepared(_ONE_STATEMENT, writer_column, params)
        else:
            row = _run_prepared(_ONE_STATEMENT, writer_column, params)
        if row is None:
            return None
        message_id, chat_id, seq, visitor_id, name = row
        return Appended(message_id, chat_id, seq, visitor_id, name, now)
    with transaction.atomic():
        taken = _run(_TAKE_SEQ, writer_column, params)
        if taken is None:
            return None
        chat_id, seq, visitor_id = taken
        message_id, _, _, name = _run(_INSERT, writer_column, {**params, "chat_id": chat_id, "seq": seq,
                                                              "visitor_id": visitor_id})
    return Appended(message_id, chat_id, seq, visitor_id, name, now)


def _run_prepared(sql: str, writer_column: str, params: dict):
    """PostgreSQL: bind the parameters on the server, so that psycopg prepares the statement after
    a few runs on a connection and PostgreSQL stops parsing and planning it for every message.
    (Django's own cursors bind on the client and send the whole text each time.)"""
    with connection.wrap_database_errors:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql.format(writer=writer_column, **_TABLES), params)
            return cursor.fetchone()


def _run(sql: str, writer_column: str, params: dict):
    with connection.cursor() as cursor:
        cursor.execute(sql.format(writer=writer_column, **_TABLES), params)
        return cursor.fetchone()
