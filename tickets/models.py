"""Departments, tickets and what a ticket keeps: labels, stars, rating, timeline, transcript, emails.

Tickets know nothing of chats: a chat points at its ticket, not the reverse, and the app that owns a
conversation hands the ticket what to keep (``TranscriptLine`` rows) when it ends.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

TICKET_REF_PREFIX = "HD-"
LABEL_MAX_LENGTH = 32


class Department(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True, help_text="Offered to visitors in the chat widget.")
    position = models.PositiveIntegerField(default=0, help_text="Order in the widget's department list.")
    send_transcripts = models.BooleanField(
        default=True,
        help_text="Email the transcript to the visitor when a chat of this department ends. Off: the "
        "transcript is still stored on the ticket, and an agent or the visitor can still ask for it.",
    )

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Label(models.Model):
    """A word agents tag tickets with. Names are unique whatever their case."""

    name = models.CharField(max_length=LABEL_MAX_LENGTH)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="label_unique_name_ci")]

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Rating(models.TextChoices):
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL)
    # The one assignee: a chat's agent is this, set by the same service call (tickets.services.ticket_assign).
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester_name = models.CharField(max_length=100)
    requester_email = models.EmailField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="tickets")
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    rating_comment = models.TextField(max_length=1000, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    transcript_stored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def ref(self) -> str:
        """The reference agents and requesters quote, derived from the primary key."""
        return ref_of(self.pk) if self.pk else ""

    def __str__(self):
        return f"{self.ref} {self.subject}"


def ref_of(pk: int) -> str:
    return f"{TICKET_REF_PREFIX}{pk:06d}"


def pk_of_ref(ref: str) -> int | None:
    """The primary key a ref like ``HD-000042`` (any case, spaces around) names, or None."""
    ref = ref.strip().upper()
    digits = ref[len(TICKET_REF_PREFIX):] if ref.startswith(TICKET_REF_PREFIX) else ""
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None


class TicketStar(models.Model):
    """An agent's personal flag on a ticket, in one of a few colours."""

    class Colour(models.TextChoices):
        YELLOW = "yellow", "Yellow"
        RED = "red", "Red"
        GREEN = "green", "Green"
        BLUE = "blue", "Blue"
        PURPLE = "purple", "Purple"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="stars")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    colour = models.CharField(max_length=8, choices=Colour.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "agent"], name="star_unique_ticket_agent")]


class TicketEvent(models.Model):
    """The ticket's timeline: what happened to it, when, and who did it."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ASSIGNED = "assigned", "Assigned"
        DEPARTMENT = "department", "Department changed"
        RESOLVED = "resolved", "Resolved"
        REOPENED = "reopened", "Reopened"
        LABELLED = "labelled", "Label added"
        UNLABELLED = "unlabelled", "Label removed"
        TRANSCRIPT_STORED = "transcript", "Transcript stored"
        EMAIL_REQUESTED = "email_asked", "Transcript email requested"
        EMAIL_SENT = "email_sent", "Transcript emailed"
        EMAIL_FAILED = "email_failed", "Transcript email failed"
        EMAIL_SKIPPED = "email_skipped", "Transcript not emailed"
        RATED = "rated", "Rated"
        BLOCKED = "blocked", "Blocked"
        UNBLOCKED = "unblocked", "Block ended"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True, help_text="Who did it, as shown then.")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.detail}".strip()


class TranscriptLine(models.Model):
    """One entry of the permanent record of a conversation, in order: a message, a system note, or a
    file. ``html`` is the sanitised HTML the conversation showed; ``attachment_ref`` is an opaque key the
    app that stores the file understands (it makes the links)."""

    class Kind(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="transcript")
    position = models.PositiveIntegerField()
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    author_name = models.CharField(max_length=150, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    attachment_ref = models.CharField(max_length=64, blank=True)
    attachment_name = models.CharField(max_length=255, blank=True)
    attachment_size = models.PositiveBigIntegerField(null=True, blank=True)
    attachment_type = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["ticket", "position"]
        constraints = [models.UniqueConstraint(fields=["ticket", "position"], name="transcript_unique_position")]

    def __str__(self):
        return f"{self.ticket_id}:{self.position}"


class TranscriptEmail(models.Model):
    """One transcript email to send: made when a chat ends (automatic), when an agent resends it or when
    the visitor asks for it. The task that sends it locks the row, so it goes out once however many
    times the task runs; a sweep re-drives rows a lost task left pending."""

    class Reason(models.TextChoices):
        AUTOMATIC = "auto", "Chat ended"
        AGENT = "agent", "Sent again by an agent"
        VISITOR = "visitor", "Asked for by the visitor"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="transcript_emails")
    to = models.EmailField()
    reason = models.CharField(max_length=8, choices=Reason.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]

    def __str__(self):
        return f"{self.ticket_id} → {self.to} ({self.state})"
