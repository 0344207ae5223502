"""State changes of tickets. Called by other apps, inside their own transactions.

Every change a person would ask about later ("who moved this to Billing?", "did the transcript go
out?") leaves a ``TicketEvent`` on the ticket's timeline, written by the same call.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from helpdesk.tasks import enqueue_on_commit

from .errors import InvalidTicketInput, TicketNotFound
from .models import (
    LABEL_MAX_LENGTH,
    Department,
    Label,
    Ticket,
    TicketEvent,
    TicketStar,
    TranscriptEmail,
    TranscriptLine,
)

MAX_LABELS_PER_TICKET = 20
MAX_RATING_COMMENT_CHARS = 1000
# A visitor may ask for the transcript again this many times per ticket (an agent is not limited).
MAX_VISITOR_TRANSCRIPT_REQUESTS = 5
# The same request (reason and address) within this long is the same request, answered with its email.
REQUEST_AGAIN_WINDOW = timedelta(seconds=10)


def _name(user: AbstractBaseUser | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def event_record(ticket: Ticket | int, kind: str, detail: str = "", *, actor: AbstractBaseUser | None = None,
                 actor_name: str = "", at: datetime | None = None) -> TicketEvent:
    """Add an entry to the ticket's timeline."""
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    return TicketEvent.objects.create(ticket_id=ticket_id, kind=kind, detail=detail[:2000], actor=actor,
                                      actor_name=actor_name or _name(actor), at=at or timezone.now())


def _ticket(ticket_id: int, *, lock: bool = False) -> Ticket:
    query = Ticket.objects.select_for_update() if lock else Ticket.objects
    ticket = query.filter(pk=ticket_id).first()
    if ticket is None:
        raise TicketNotFound("No such ticket.")
    return ticket


@transaction.atomic
def ticket_open(
    *, subject: str, requester_name: str, requester_email: str, department: Department | None, language: str = ""
) -> Ticket:
    ticket = Ticket.objects.create(
        subject=subject[:200],
        requester_name=requester_name,
        requester_email=requester_email,
        department=department,
        language=language,
    )
    event_record(ticket, TicketEvent.Kind.OPENED, f"Opened by {requester_name}" if requester_name else "")
    return ticket


@transaction.atomic
def ticket_assign(*, ticket_id: int, agent: AbstractBaseUser | None, by: AbstractBaseUser | None = None) -> None:
    """Make ``agent`` the ticket's one assignee (None: nobody). The app whose conversation the ticket
    records calls this in the same transaction as its own change, so the two cannot disagree."""
    ticket = _ticket(ticket_id, lock=True)
    if ticket.assigned_agent_id == (agent.pk if agent else None):
        return
    ticket.assigned_agent = agent
    ticket.save(update_fields=["assigned_agent", "updated_at"])
    event_record(ticket, TicketEvent.Kind.ASSIGNED, f"Assigned to {_name(agent)}" if agent else "Unassigned",
                 actor=by or agent)


def check_department(department_id: int | None) -> Department | None:
    """Any department an agent may move a ticket to (also one the widget does not offer)."""
    if department_id is None:
        return None
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise InvalidTicketInput("There is no such department.")
    return department


@transaction.atomic
def ticket_department_set(*, ticket_id: int, department_id: int | None, by: AbstractBaseUser) -> Ticket:
    department = check_department(department_id)
    ticket = _ticket(ticket_id, lock=True)
    if ticket.department_id != (department.pk if department else None):
        ticket.department = department
        ticket.save(update_fields=["department", "updated_at"])
        event_record(ticket, TicketEvent.Kind.DEPARTMENT,
                     f"Moved to {department.name}" if department else "No department", actor=by)
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket_id: int, by: AbstractBaseUser | None = None, detail: str = "") -> Ticket:
    ticket = _ticket(ticket_id, lock=True)
    if ticket.status != Ticket.Status.RESOLVED:
        ticket.status, ticket.resolved_at = Ticket.Status.RESOLVED, timezone.now()
        ticket.save(update_fields=["status", "resolved_at", "updated_at"])
        event_record(ticket, TicketEvent.Kind.RESOLVED, detail, actor=by)
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket_id: int, by: AbstractBaseUser) -> Ticket:
    ticket = _ticket(ticket_id, lock=True)
    if ticket.status != Ticket.Status.OPEN:
        ticket.status, ticket.resolved_at = Ticket.Status.OPEN, None
        ticket.save(update_fields=["status", "resolved_at", "updated_at"])
        event_record(ticket, TicketEvent.Kind.REOPENED, actor=by)
    return ticket


# --- Labels and stars -------------------------------------------------------------------------------


def check_label(name: str) -> str:
    """Trimmed, inner runs of white space made one space, 1 to 32 characters, printable."""
    if not isinstance(name, str):
        raise InvalidTicketInput("A label is a word or two.")
    name = " ".join(name.split())
    if not name:
        raise InvalidTicketInput("A label cannot be empty.")
    if len(name) > LABEL_MAX_LENGTH:
        raise InvalidTicketInput(f"A label can be at most {LABEL_MAX_LENGTH} characters long.")
    if not name.isprintable():
        raise InvalidTicketInput("A label can hold only printable characters.")
    return name


def _label_named(name: str, *, create: bool) -> Label | None:
    label = Label.objects.annotate(lower=Lower("name")).filter(lower=name.lower()).first()
    if label is None and create:
        # Two agents adding a new label at once: the unique index lets one in, the other finds it.
        try:
            with transaction.atomic():
                label = Label.objects.create(name=name)
        except Exception:
            label = Label.objects.annotate(lower=Lower("name")).filter(lower=name.lower()).first()
            if label is None:
                raise
    return label


@transaction.atomic
def label_add(*, ticket_id: int, name: str, by: AbstractBaseUser) -> list[str]:
    """Tag the ticket. A label it has already (whatever the case) changes nothing. Returns its labels."""
    name = check_label(name)
    ticket = _ticket(ticket_id, lock=True)
    label = _label_named(name, create=True)
    if not ticket.labels.filter(pk=label.pk).exists():
        if ticket.labels.count() >= MAX_LABELS_PER_TICKET:
            raise InvalidTicketInput(f"A ticket can have at most {MAX_LABELS_PER_TICKET} labels.")
        ticket.labels.add(label)
        event_record(ticket, TicketEvent.Kind.LABELLED, label.name, actor=by)
    return labels_of(ticket.pk)


@transaction.atomic
def label_remove(*, ticket_id: int, name: str, by: AbstractBaseUser) -> list[str]:
    name = check_label(name)
    ticket = _ticket(ticket_id, lock=True)
    label = _label_named(name, create=False)
    if label is not None and ticket.labels.filter(pk=label.pk).exists():
        ticket.labels.remove(label)
        event_record(ticket, TicketEvent.Kind.UNLABELLED, label.name, actor=by)
    return labels_of(ticket.pk)


def labels_of(ticket_id: int) -> list[str]:
    return list(Label.objects.filter(tickets__pk=ticket_id).order_by(Lower("name")).values_list("name", flat=True))


def check_star_colour(colour: str | None) -> str | None:
    if colour is None or colour == "":
        return None
    if colour not in TicketStar.Colour.values:
        raise InvalidTicketInput("A star is one of: " + ", ".join(TicketStar.Colour.values) + ".")
    return colour


@transaction.atomic
def star_set(*, ticket_id: int, agent: AbstractBaseUser, colour: str | None) -> str | None:
    """The agent's own star on the ticket: a colour, or None to take it off. Nobody else sees it."""
    colour = check_star_colour(colour)
    _ticket(ticket_id)
    if colour is None:
        TicketStar.objects.filter(ticket_id=ticket_id, agent=agent).delete()
    else:
        TicketStar.objects.update_or_create(ticket_id=ticket_id, agent=agent, defaults={"colour": colour})
    return colour


def star_of(ticket_id: int, agent_id: int) -> str | None:
    return TicketStar.objects.filter(ticket_id=ticket_id, agent_id=agent_id).values_list("colour", flat=True).first()


# --- Rating -----------------------------------------------------------------------------------------


@transaction.atomic
def rating_set(*, ticket_id: int, rating: str, comment: str = "", by_name: str = "") -> Ticket:
    """The requester's rating, good or bad, with an optional comment. Rating again replaces it."""
    if rating not in Ticket.Rating.values:
        raise InvalidTicketInput("A rating is 'good' or 'bad'.")
    comment = (comment or "").strip()
    if len(comment) > MAX_RATING_COMMENT_CHARS:
        raise InvalidTicketInput(f"A comment can be at most {MAX_RATING_COMMENT_CHARS:,} characters long.")
    ticket = _ticket(ticket_id, lock=True)
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, timezone.now()
    ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
    event_record(ticket, TicketEvent.Kind.RATED, Ticket.Rating(rating).label + (f": {comment}" if comment else ""),
                 actor_name=by_name)
    return ticket


# --- Transcript -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """What the app that owns a conversation hands over for the record, one per entry."""

    at: datetime
    kind: str  # TranscriptLine.Kind: visitor, agent, system
    author_name: str = ""
    text: str = ""
    html: str = ""
    attachment_ref: str = ""
    attachment_name: str = ""
    attachment_size: int | None = None
    attachment_type: str = ""


@transaction.atomic
def transcript_store(*, ticket_id: int, lines: Iterable[Line]) -> int:
    """Keep the conversation on the ticket as a permanent record, replacing any earlier one (a chat that
    was ended, reopened and ended again is recorded whole). Returns the number of lines."""
    ticket = _ticket(ticket_id, lock=True)
    TranscriptLine.objects.filter(ticket=ticket).delete()
    rows = [TranscriptLine(ticket=ticket, position=i, at=line.at, kind=line.kind, author_name=line.author_name[:150],
                           text=line.text, html=line.html, attachment_ref=line.attachment_ref,
                           attachment_name=line.attachment_name[:255], attachment_size=line.attachment_size,
                           attachment_type=line.attachment_type[:100])
            for i, line in enumerate(lines, start=1)]
    TranscriptLine.objects.bulk_create(rows)
    first = ticket.transcript_stored_at is None
    ticket.transcript_stored_at = timezone.now()
    ticket.save(update_fields=["transcript_stored_at", "updated_at"])
    event_record(ticket, TicketEvent.Kind.TRANSCRIPT_STORED,
                 f"{len(rows)} entries" + ("" if first else " (stored again)"))
    return len(rows)


@transaction.atomic
def transcript_email_request(*, ticket_id: int, reason: str, to: str | None = None,
                             by: AbstractBaseUser | None = None) -> TranscriptEmail | None:
    """Ask for the transcript to be emailed (to the requester unless ``to`` is given). The email is
    sent by a task enqueued after commit. Returns None, with the reason on the timeline, when nothing
    will be sent: no address, or an automatic transcript the department turned off."""
    ticket = _ticket(ticket_id, lock=True)
    to = (to or ticket.requester_email or "").strip()
    if ticket.transcript_stored_at is None:
        raise InvalidTicketInput("There is no transcript yet: the chat has not ended.")
    if reason == TranscriptEmail.Reason.AUTOMATIC:
        if ticket.department is not None and not ticket.department.send_transcripts:
            event_record(ticket, TicketEvent.Kind.EMAIL_SKIPPED,
                         f"Not sent: {ticket.department.name} does not email transcripts automatically.")
            return None
    if not to:
        event_record(ticket, TicketEvent.Kind.EMAIL_SKIPPED, "Not sent: no email address was given.", actor=by)
        return None
    if reason != TranscriptEmail.Reason.AUTOMATIC:
        # The same request again at once (a double click, a call retried after its commit went through
        # but its answer was lost): the email already on its way answers it.
        again = ticket.transcript_emails.filter(reason=reason, to=to,
                                                requested_at__gte=timezone.now() - REQUEST_AGAIN_WINDOW).first()
        if again is not None:
            return again
    if reason == TranscriptEmail.Reason.VISITOR:
        asked = ticket.transcript_emails.filter(reason=TranscriptEmail.Reason.VISITOR).count()
        if asked >= MAX_VISITOR_TRANSCRIPT_REQUESTS:
            raise InvalidTicketInput("The transcript has been sent several times already. Please check your inbox.")
    email = TranscriptEmail.objects.create(ticket=ticket, to=to, reason=reason, requested_by=by)
    event_record(ticket, TicketEvent.Kind.EMAIL_REQUESTED,
                 f"{TranscriptEmail.Reason(reason).label}: to {to}", actor=by)
    from . import tasks  # the task module imports these services

    enqueue_on_commit(tasks.transcript_email_send, email.pk)
    return email
