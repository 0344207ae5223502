"""Visitors, chats and their messages.

A chat's ``last_seq`` is the counter from which every change of that chat takes its ``seq``: messages,
and system notes such as "agent joined" or "chat ended", are rows of ``Message`` numbered from it. A
client that says the last ``seq`` it saw is sent every row after it, so nothing is lost when a live
event is.
"""

import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

CHAT_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def new_chat_public_id() -> str:
    return "".join(secrets.choice(CHAT_ID_ALPHABET) for _ in range(8))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Visitor(models.Model):
    """Someone chatting through the widget. Known by a random token kept in the widget's storage;
    only its hash is stored, so a copy of the database does not let anyone act as the visitor."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Presence (chat/presence.py): an open widget socket writes ``last_seen_at`` at hello and then every
    # ``presence.HEARTBEAT_SECONDS``; older than ``presence.GONE_SECONDS``, the visitor is gone.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Widget sockets open now, across processes, and how many of them are on a page in a background tab
    # (all of them: away). A process that dies leaves the counts too high; the stale ``last_seen_at``
    # then says gone all the same, and the next hello starts the counts again.
    sockets_open = models.PositiveIntegerField(default=0)
    sockets_hidden = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.name or self.email or f"Visitor {self.pk}"


class Chat(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    public_id = models.CharField("chat ID", max_length=12, unique=True, default=new_chat_public_id)
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="chats")
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("tickets.Department", null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("act_as_agent", "Can answer chats in the agent console")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(agent__isnull=False),
                name="chat_active_has_agent",
            ),
        ]

    def __str__(self):
        return self.public_id


def new_attachment_ref() -> str:
    return secrets.token_urlsafe(18)


class Attachment(models.Model):
    """A file sent in a chat (chat/attachments/). ``ref`` is its public name, in its URL
    (``/files/<ref>/``); ``storage_key`` where its bytes are, made by the server and never shown.
    The file is the message's: it takes the chat's seq as the message that carries it."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        FILE = "file", "File"

    ref = models.CharField(max_length=32, unique=True, default=new_attachment_ref, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="attachments")
    uploader_kind = models.CharField(max_length=8, choices=[("visitor", "Visitor"), ("agent", "Agent")])
    uploader_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=255, help_text="The file's name as sent, made safe to show.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    type_id = models.CharField(max_length=16, help_text="What the content is (chat/attachments/kinds.py).")
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_width = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True)
    storage_key = models.CharField(max_length=200, editable=False)
    thumbnail_key = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.name


class Message(models.Model):
    class Author(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    author_kind = models.CharField(max_length=8, choices=Author.choices)
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150, blank=True)
    # What a system note records ("accepted", "ended"); empty for people's messages.
    event = models.CharField(max_length=20, blank=True)
    client_id = models.CharField(max_length=64, null=True, blank=True)
    # A file sent as this message; ``text`` is then its name and ``html`` that name, escaped.
    attachment = models.OneToOneField(Attachment, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="message")
    text = models.TextField()
    html = models.TextField(help_text="Sanitised HTML made once from the text when the message was saved.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Receipts, for agent messages: when the visitor's widget got the message and when the visitor saw
    # it, each set once. ``receipt_seq`` is the chat seq of the last receipt that changed them, so a
    # resume from an older seq sends the receipt again.
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    receipt_seq = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["chat", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="message_unique_chat_seq"),
            models.UniqueConstraint(fields=["chat", "client_id"], name="message_unique_chat_client_id"),
        ]

    def __str__(self):
        return f"{self.chat_id}#{self.seq}"


class PageView(models.Model):
    """A page of the embedding website the visitor looked at, reported by the widget's loader."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="page_views")
    chat = models.ForeignKey(Chat, null=True, blank=True, on_delete=models.SET_NULL, related_name="page_views")
    url = models.URLField(max_length=2000)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.url


UPLOAD_MAX_MB_CEILING = 100  # the largest an admin may allow: past it the daphne guard cuts every upload


def default_upload_types() -> str:
    from .attachments.kinds import ALL_IDS

    return ",".join(ALL_IDS)


class ChatSettings(models.Model):
    """Settings an admin changes in Django admin. One row."""

    typing_preview = models.BooleanField(
        default=True,
        help_text="Agents see what a visitor types before it is sent. Off: agents see only 'typing…'. "
        "The widget tells visitors when this is on.",
    )
    visitor_gone_minutes = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)],
        help_text="A chat ends by itself when its visitor has had no widget open for this long (every tab "
        "closed, or the connection lost). 10 minutes: a reload, a browser restart, a phone locked for a "
        "while or a train tunnel come back well within it, and an agent's list is not left holding chats "
        "nobody will answer.",
    )

    upload_max_mb = models.PositiveIntegerField(
        "largest file (MB)", default=20, validators=[MinValueValidator(1), MaxValueValidator(UPLOAD_MAX_MB_CEILING)],
        help_text=f"The largest file a visitor or an agent may send, in MB (at most {UPLOAD_MAX_MB_CEILING}). "
        "A larger upload is cut off as it arrives.",
    )
    upload_types = models.CharField(
        "kinds of file", max_length=300, default=default_upload_types, blank=True,
        help_text="The kinds of file that may be sent, told by their content. None: no files.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "chat settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="chat_settings_single_row")]

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def __str__(self):
        return "Chat settings"


class RateLimit(models.Model):
    """An admin's setting of one of the rate limits in chat/limits.py (``RULES``): blank keeps the
    default. One row per rule, made when the admin list is first opened."""

    name = models.CharField(max_length=40, unique=True, editable=False)
    limit = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="How many (frames, bytes, sockets or failed logins) in the window. 0: no limit. "
        "Blank: the default.",
    )
    window_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="The window in seconds, from the first one counted. Blank: the default.",
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = "rate limit"

    def __str__(self):
        return self.name
