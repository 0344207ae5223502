"""Read queries of tickets shared by pages (the console's ticket list, Django admin).

``ticket_search`` is the one place that knows how a search box finds tickets: a ref names one ticket,
an address finds its requester's tickets, anything else is text. On PostgreSQL text is matched with
full-text search (stemmed, so "refunds" finds "refund") over the subject and every line of the
transcript; elsewhere (the embedded SQLite default) by substring.
"""

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from .models import Label, Ticket, TicketStar, TranscriptLine, pk_of_ref

# The text search configuration: stemming of one language for every ticket. Tickets in other
# languages still match on words as they are written (the parser splits any script).
SEARCH_CONFIG = "english"
STAR_ANY = "any"  # the star filter's "any colour of mine"


def _full_text() -> bool:
    return connection.vendor == "postgresql"


def _text_filter(tickets: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """Tickets whose subject or transcript holds ``text``, or whose requester's name or address does."""
    people = Q(requester_name__icontains=text) | Q(requester_email__icontains=text)
    if _full_text():
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        in_transcript = Exists(
            TranscriptLine.objects.annotate(document=SearchVector("text", config=SEARCH_CONFIG))
            .filter(ticket=OuterRef("pk"), document=query)
        )
        tickets = tickets.annotate(subject_document=SearchVector("subject", config=SEARCH_CONFIG))
        return tickets.filter(Q(subject_document=query) | in_transcript | people)
    in_transcript = Exists(TranscriptLine.objects.filter(ticket=OuterRef("pk"), text__icontains=text))
    return tickets.filter(Q(subject__icontains=text) | in_transcript | people)


def ticket_search(*, agent, text: str = "", status: str = "", label: str = "", star: str = "",
                  department_id: int | None = None) -> QuerySet[Ticket]:
    """Tickets newest first, each with ``my_star``: the colour of ``agent``'s own star, or None (no one
    else's stars are read). ``text``: a ref (``HD-000042``), an email address (or part of one, with an
    ``@``), or words. ``status``: a ``Ticket.Status``; ``label``: a label's name, any case; ``star``:
    ``"any"`` for tickets ``agent`` starred, or one colour. Values that are not choices match nothing
    rather than everything, so a stale link never shows more than it says."""
    tickets = (
        Ticket.objects.select_related("department", "assigned_agent")
        .prefetch_related("labels")
        .annotate(my_star=Subquery(TicketStar.objects.filter(ticket=OuterRef("pk"), agent=agent)
                                   .values("colour")[:1]))
        .order_by("-created_at", "-pk")
    )
    text = " ".join((text or "").split())
    if text:
        pk = pk_of_ref(text)
        if pk is not None:
            tickets = tickets.filter(pk=pk)
        elif "@" in text:
            tickets = tickets.filter(requester_email__icontains=text)
        else:
            tickets = _text_filter(tickets, text)
    if status:
        tickets = tickets.filter(status=status) if status in Ticket.Status.values else tickets.none()
    if label:
        tickets = tickets.filter(labels__in=Label.objects.annotate(lower=Lower("name"))
                                 .filter(lower=label.strip().lower()))
    if department_id is not None:
        tickets = tickets.filter(department_id=department_id)
    if star == STAR_ANY:
        tickets = tickets.filter(my_star__isnull=False)
    elif star:
        tickets = tickets.filter(my_star=star) if star in TicketStar.Colour.values else tickets.none()
    return tickets


def labels_in_use() -> list[str]:
    """Every label's name, for a filter's choices."""
    return list(Label.objects.order_by(Lower("name")).values_list("name", flat=True))


def ticket_by_ref(ref: str, *, agent) -> Ticket | None:
    """One ticket by its ref, with what its page shows: department, assignee, labels, ``my_star``."""
    pk = pk_of_ref(ref)
    if pk is None:
        return None
    return ticket_search(agent=agent).filter(pk=pk).first()


def ticket_page(ticket: Ticket) -> dict:
    """What a ticket's page lists besides the ticket: its transcript in order, its timeline and its
    transcript emails."""
    return {
        "transcript": list(ticket.transcript.order_by("position")),
        "timeline": list(ticket.timeline.select_related("actor").order_by("at", "pk")),
        "emails": list(ticket.transcript_emails.order_by("requested_at", "pk")),
    }
