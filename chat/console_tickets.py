"""The console's ticket pages: the list with its search, one ticket's page, and its two actions.

Agents only, by the console's own rule (``chat.permissions.is_agent``): anyone not logged in is sent
to log in; a logged-in user who is not an agent is refused (403). Thin: queries are in
``tickets.selectors`` and ``chat.ticket_selectors``, changes in ``tickets.services``.
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tickets import selectors, services
from tickets.errors import TicketError
from tickets.models import Ticket, TicketStar, TranscriptEmail, ref_of

from .models import Chat
from .permissions import is_agent
from .ticket_selectors import chat_conversation, chat_of_ticket, other_tickets

TICKETS_PER_PAGE = 25


def agent_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_agent(request.user):
            return render(request, "tickets/console/not_agent.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


STATUS_CHOICES = [("", "Any status"), *Ticket.Status.choices]
STAR_CHOICES = [("", "Starred or not"), (selectors.STAR_ANY, "Any of my stars"), *TicketStar.Colour.choices]
SEARCH_MAX_CHARS = 200


def _search_params(get) -> dict:
    """The list's search as the query string has it. A value that is not one of the choices is passed
    on as it is: it matches nothing, rather than being dropped and matching everything."""
    return {
        "text": get.get("q", "").strip()[:SEARCH_MAX_CHARS],
        "status": get.get("status", "").strip(),
        "label": get.get("label", "").strip(),
        "star": get.get("star", "").strip(),
    }


def _options(choices, current: str, *, fold_case: bool = False) -> list[dict]:
    same = (lambda a, b: a.lower() == b.lower()) if fold_case else (lambda a, b: a == b)
    return [{"value": value, "label": label, "selected": bool(current) and same(value, current)}
            for value, label in choices]


class ResendForm(forms.Form):
    to = forms.EmailField(required=False, label="Send to", max_length=254,
                          help_text="Leave empty for the requester's address.")


@require_GET
@agent_page
def ticket_list(request):
    search = _search_params(request.GET)
    tickets = selectors.ticket_search(agent=request.user, **search)
    page = Paginator(tickets, TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    labels = [("", "Any label"), *((name, name) for name in selectors.labels_in_use())]
    return render(request, "tickets/console/list.html", {
        "search": search,
        "searching": any(search.values()),
        "status_options": _options(STATUS_CHOICES, search["status"]),
        "label_options": _options(labels, search["label"], fold_case=True),
        "star_options": _options(STAR_CHOICES, search["star"]),
        "page": page,
        "query": query.urlencode(),
        "max_chars": SEARCH_MAX_CHARS,
    })


def _ticket_or_404(request, ref: str) -> Ticket:
    ticket = selectors.ticket_by_ref(ref, agent=request.user)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


@require_GET
@agent_page
def ticket_detail(request, ref):
    ticket = _ticket_or_404(request, ref)
    if ref != ticket.ref:
        return redirect("console-ticket", ref=ticket.ref)
    chat = chat_of_ticket(ticket.pk)
    page = selectors.ticket_page(ticket)
    live = not page["transcript"] and chat is not None
    return render(request, "tickets/console/detail.html", {
        "ticket": ticket,
        "chat": chat,
        "chat_open": chat is not None and chat.status != Chat.Status.ENDED,
        "conversation": chat_conversation(chat) if live else page["transcript"],
        "live": live,
        "timeline": page["timeline"],
        "emails": page["emails"],
        "others": other_tickets(ticket, chat),
        "resend_form": ResendForm(),
    })


@require_POST
@agent_page
def ticket_reopen(request, ref):
    ticket = _ticket_or_404(request, ref)
    if ticket.status == Ticket.Status.OPEN:
        messages.info(request, f"{ticket.ref} is already open.")
    else:
        try:
            services.ticket_reopen(ticket_id=ticket.pk, by=request.user)
        except TicketError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{ticket.ref} is open again.")
    return redirect(_detail_url(ticket))


@require_POST
@agent_page
def ticket_resend(request, ref):
    ticket = _ticket_or_404(request, ref)
    form = ResendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not sent: " + " ".join(form.errors.get("to", ["check the address."])))
        return redirect(_detail_url(ticket))
    try:
        email = services.transcript_email_request(ticket_id=ticket.pk, reason=TranscriptEmail.Reason.AGENT,
                                                  to=form.cleaned_data["to"] or None, by=request.user)
    except TicketError as error:
        messages.error(request, error.message)
    else:
        if email is None:
            messages.error(request, "Not sent: this ticket has no email address. Enter one to send it to.")
        else:
            messages.success(request, f"The transcript will be emailed to {email.to}.")
    return redirect(_detail_url(ticket))


def _detail_url(ticket: Ticket) -> str:
    return reverse("console-ticket", kwargs={"ref": ref_of(ticket.pk)})
