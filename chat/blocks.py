"""An agent blocks a chat's visitor: what a block does to chats (blocking/ keeps the blocks).

``visitor_block`` blocks the visitor, the email address they gave, and with ``ip`` their IP network
(the address itself for IPv4, its /64 for IPv6: the admin's prefix), for the admin's duration, in one
transaction with the rest: the visitor's open chats end with a neutral note, the ticket's timeline says
who blocked, when, why and what, and, once committed, every open widget of the visitor (and with an
IP block every visitor socket of the network) is told and closed with 4451. Blocking from an ended
chat blocks the visitor all the same.

``hello_check`` is what a widget's ``hello`` asks: blocked or not, and the network group its socket
joins so that an IP block reaches it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from blocking import networks
from blocking import selectors as block_selectors
from blocking import services as block_services
from blocking.errors import BlockError
from blocking.models import Block
from tickets import services as ticket_services
from tickets.models import TicketEvent

from . import events, services
from .errors import InvalidInput, NotAllowed
from .models import Chat, Visitor

BLOCK_PERMISSION = "blocking.block_visitor"
ENDED_NOTE = "The chat has ended."  # what the visitor reads: neutral, nothing to argue with


def may_block(user) -> bool:
    """Read fresh: an admin may have just given or taken the right (a user object caches its perms)."""
    if user is None or not user.is_authenticated:
        return False
    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    return bool(fresh and fresh.has_perm(BLOCK_PERMISSION))


@dataclass(frozen=True)
class BlockMade:
    until: datetime
    network: str | None
    blocks: list[Block]


@transaction.atomic
def visitor_block(*, chat_public_id: str, agent: AbstractBaseUser, reason: str, ip: bool,
                  now: datetime | None = None) -> BlockMade:
    if not may_block(agent):
        raise NotAllowed("You may not block visitors. An admin can give you the right "
                         "(Blocking | Can block visitors and their IP addresses).")
    chat = services._chat_for(services.Actor.for_agent(agent), chat_public_id, lock=True)
    visitor = chat.visitor
    targets = [block_services.visitor_target(visitor.pk)]
    if visitor.email:
        targets.append(block_services.email_target(visitor.email))
    network = None
    if ip:
        network = networks.network_of(chat.ip_address or "", block_selectors.block_settings().ipv6_prefix)
        if network is None:
            raise InvalidInput("This chat has no IP address to block. Block the visitor without it.")
        targets.append(block_services.network_target(network))
    try:
        blocks = block_services.block_targets(targets=targets, reason=reason, by=agent, ticket_id=chat.ticket_id,
                                              now=now)
    except BlockError as refused:
        raise InvalidInput(refused.message) from None
    until = max(block.expires_at for block in blocks)
    what = "the visitor" + (f", their address {visitor.email}" if visitor.email else "")
    what += f" and the IP network {network}" if network else ""
    ticket_services.event_record(chat.ticket_id, TicketEvent.Kind.BLOCKED,
                                 f"Blocked {what} until {until:%Y-%m-%d %H:%M} UTC. Reason: {blocks[0].reason}",
                                 actor=agent)

    # The visitor, and any other visitor who gave the same address (another browser, a cleared token).
    visitor_ids = [visitor.pk]
    if visitor.email:
        visitor_ids += list(Visitor.objects.filter(email__iexact=visitor.email).exclude(pk=visitor.pk)
                            .values_list("pk", flat=True))
    open_chats = (Chat.objects.select_for_update(of=("self",))
                  .select_related("visitor", "agent", "department", "ticket")
                  .filter(visitor_id__in=visitor_ids).exclude(status=Chat.Status.ENDED))
    for open_chat in open_chats:
        services._end(open_chat, ENDED_NOTE, by=agent)
    events.publish_blocked(visitor_ids=visitor_ids, network=network, until=until)
    services.publish_details(chat)
    return BlockMade(until, network, blocks)


@dataclass(frozen=True)
class HelloVerdict:
    block: Block | None
    network: str | None  # the network group this socket joins (None: no address)


def hello_check(*, visitor_id: int | None, email: str | None, ip: str | None) -> HelloVerdict:
    """May this widget say hello: its visitor (if it has one yet), their address and its IP."""
    network = networks.network_of(ip or "", block_selectors.block_settings().ipv6_prefix)
    return HelloVerdict(block_selectors.block_for(visitor_id=visitor_id, email=email, ip=ip), network)
