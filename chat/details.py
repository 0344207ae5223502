"""What an agent reads about a chat beside the conversation: the chat header and the properties
pane's Ticket and Chat tabs. Read on demand (``chat.details``) and sent again to the chat's agents when
it changes; never on the message hot path. ``events.details_frame`` shapes it for the wire."""

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from blocking import selectors as block_selectors
from tickets import services as ticket_services
from tickets.models import Department, Label, Ticket, TicketEvent, TranscriptEmail

from . import presence
from .models import Chat, Visitor
from .permissions import AGENT_PERMISSION

EARLIER_CHATS_LIMIT = 10
LABEL_SUGGESTIONS_LIMIT = 50


@dataclass(frozen=True)
class Device:
    browser: str
    os: str
    device: str


@dataclass
class ChatDetails:
    chat: Chat
    ticket: Ticket
    labels: list[str]
    star: str | None  # this agent's own; None in what is sent to every agent of the chat
    visitor: Visitor
    presence: str
    device: Device
    earlier: list[Chat]
    emails: list[TranscriptEmail]
    transcript_skipped: str | None = None  # why the last automatic transcript was not sent, if it was not
    blocks: list = field(default_factory=list)  # this visitor's, address's and network's blocks, current and past
    departments: list[Department] = field(default_factory=list)
    agents: list = field(default_factory=list)
    label_suggestions: list[str] = field(default_factory=list)


_DESKTOP_OSES = {"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Fedora", "Chrome OS", "ChromeOS", "FreeBSD",
                 "Debian"}


@lru_cache(maxsize=1024)
def device_of(user_agent: str) -> Device:
    """Browser, OS and device from the User-Agent, by uap-python (ua-parser's maintained rules)."""
    if not user_agent:
        return Device("Unknown", "Unknown", "Unknown")
    from ua_parser import parse  # loads its rules on first use

    result = parse(user_agent)
    ua, os_, dev = result.user_agent, result.os, result.device

    def named(part, *versions) -> str:
        if part is None or part.family in ("Other", ""):
            return "Unknown"
        numbers = [v for v in (getattr(part, name, None) for name in versions) if v]
        return " ".join([part.family, ".".join(numbers)]) if numbers else part.family

    browser = named(ua, "major", "minor") if ua else "Unknown"
    system = named(os_, "major", "minor") if os_ else "Unknown"
    if dev is not None and dev.family not in ("Other", ""):
        device = dev.family
    else:
        device = "Computer" if os_ is not None and os_.family in _DESKTOP_OSES else "Unknown"
    return Device(browser, system, device)


def earlier_chats(chat: Chat) -> list[Chat]:
    """The visitor's other chats: by their token, and by the email they gave (the same person on
    another browser). Newest first."""
    mine = Q(visitor_id=chat.visitor_id)
    if chat.visitor.email:
        mine |= Q(visitor__email__iexact=chat.visitor.email)
    return list(Chat.objects.filter(mine).exclude(pk=chat.pk).select_related("ticket")
                .order_by("-started_at")[:EARLIER_CHATS_LIMIT])


def agents_to_assign() -> list:
    """Active users who may answer chats, for the Ticket tab's assignee list."""
    app_label, codename = AGENT_PERMISSION.split(".")
    perm = Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
    group_perm = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label)
    return list(get_user_model().objects.filter(is_active=True).filter(perm | group_perm | Q(is_superuser=True))
                .distinct().order_by("first_name", "last_name", "username"))


def label_suggestions() -> list[str]:
    """The labels most used, for the add-label box. Counted across every ticket: asked for only with
    the whole picture (``chat.details``), not with the answer to each change."""
    return list(Label.objects.annotate(used=Count("tickets")).order_by("-used", "name")
                .values_list("name", flat=True)[:LABEL_SUGGESTIONS_LIMIT])


def transcript_skipped(ticket: Ticket) -> str | None:
    """The timeline's word on why no transcript email was asked for (no address, the department's
    choice), unless an email was asked for since."""
    if ticket.transcript_stored_at is None:
        return None
    skipped = ticket.timeline.filter(kind=TicketEvent.Kind.EMAIL_SKIPPED).order_by("-at", "-pk").first()
    if skipped is None or ticket.transcript_emails.filter(requested_at__gt=skipped.at).exists():
        return None
    return skipped.detail


def chat_details(chat_public_id: str, *, agent_id: int | None, choices: bool = True,
                 now: datetime | None = None) -> ChatDetails | None:
    """Everything the header and pane show. ``agent_id``: whose star; ``choices``: also the lists the
    pane offers (departments, agents, label suggestions), which a broadcast of a change leaves out."""
    chat = (Chat.objects.select_related("visitor", "agent", "department", "ticket__department",
                                        "ticket__assigned_agent").filter(public_id=chat_public_id).first())
    if chat is None:
        return None
    ticket = chat.ticket
    details = ChatDetails(
        chat=chat, ticket=ticket, labels=ticket_services.labels_of(ticket.pk),
        star=ticket_services.star_of(ticket.pk, agent_id) if agent_id else None,
        visitor=chat.visitor, presence=presence.state_of(chat.visitor, now), device=device_of(chat.user_agent),
        earlier=earlier_chats(chat), emails=list(ticket.transcript_emails.order_by("-requested_at", "-pk")[:5]),
        transcript_skipped=transcript_skipped(ticket),
        blocks=block_selectors.blocks_of(visitor_id=chat.visitor_id, email=chat.visitor.email, ip=chat.ip_address),
    )
    if choices:
        details.departments = list(Department.objects.all())
        details.agents = agents_to_assign()
        details.label_suggestions = label_suggestions()
    return details
