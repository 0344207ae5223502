"""Making, lifting and expiring blocks. One transaction each.

``block_targets`` blocks each target (a visitor, an address, a network) until now + the admin's
duration. A target already blocked keeps its one open block, extended to the later of the two ends,
and the new reason is in its history. A block whose time has passed but which the sweep has not
closed yet is closed first, as expired, and a new one made.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import services as ticket_services
from tickets.models import TicketEvent

from .errors import BlockEnded, BlockInvalid, BlockNotFound
from .models import Block, BlockEvent
from .selectors import block_settings, normal_email

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Target:
    kind: str  # Block.Kind
    value: str


def visitor_target(visitor_id: int) -> Target:
    return Target(Block.Kind.VISITOR, str(visitor_id))


def email_target(email: str) -> Target:
    return Target(Block.Kind.EMAIL, normal_email(email))


def network_target(network: str) -> Target:
    return Target(Block.Kind.IP, network)


def check_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise BlockInvalid("Say briefly why you block this visitor: the reason is kept with the block.")
    if len(reason) > MAX_REASON_CHARS:
        raise BlockInvalid(f"A reason can be at most {MAX_REASON_CHARS} characters long.")
    return reason


def _name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _event(block: Block, kind: str, at: datetime, by=None, detail: str = "") -> None:
    BlockEvent.objects.create(block=block, kind=kind, at=at, by=by, by_name=_name(by), detail=detail)


@transaction.atomic
def block_targets(*, targets: list[Target], reason: str, by: AbstractBaseUser | None, ticket_id: int | None = None,
                  now: datetime | None = None) -> list[Block]:
    """Block each of ``targets`` from ``now`` for the admin's duration. Returns the open blocks."""
    reason = check_reason(reason)
    now = now or timezone.now()
    until = now + timedelta(hours=block_settings().duration_hours)
    blocks = []
    for target in targets:
        if not target.value:
            continue
        try:
            with transaction.atomic():
                blocks.append(_block_one(target, reason, by, ticket_id, now, until))
        except IntegrityError:  # another agent blocked the same target at this moment: extend theirs
            blocks.append(_block_one(target, reason, by, ticket_id, now, until))
    return blocks


def _block_one(target: Target, reason, by, ticket_id, now, until) -> Block:
    block = (Block.objects.select_for_update().filter(kind=target.kind, value=target.value, ended_at__isnull=True)
             .first())
    if block is not None and block.expires_at <= now:
        _expire(block, now)
        block = None
    if block is not None:
        block.expires_at = max(block.expires_at, until)
        block.save(update_fields=["expires_at"])
        _event(block, BlockEvent.Kind.EXTENDED, now, by, f"until {block.expires_at:%Y-%m-%d %H:%M} UTC: {reason}")
        return block
    block = Block.objects.create(kind=target.kind, value=target.value, reason=reason, ticket_id=ticket_id,
                                 created_by=by, created_at=now, expires_at=until)
    _event(block, BlockEvent.Kind.CREATED, now, by, reason)
    return block


def _expire(block: Block, now: datetime) -> None:
    block.ended_at = block.expires_at
    block.save(update_fields=["ended_at"])
    _event(block, BlockEvent.Kind.EXPIRED, now)
    if block.ticket_id:
        ticket_services.event_record(block.ticket_id, TicketEvent.Kind.UNBLOCKED,
                                     f"The block of the {block.get_kind_display().lower()} ended: it expired.", at=now)


def block_lift(*, block_id: int, by: AbstractBaseUser | None, now: datetime | None = None) -> Block:
    """End a block before its time. A block that has ended, or whose time has passed, is not lifted:
    it is over already, and the answer says so (``BlockEnded``); one found expired is closed as such."""
    now = now or timezone.now()
    with transaction.atomic():
        block = Block.objects.select_for_update().filter(pk=block_id).first()
        if block is None:
            raise BlockNotFound("No such block.")
        if block.ended_at is not None:
            raise BlockEnded(f"This block ended already, on {block.ended_at:%Y-%m-%d %H:%M} UTC.")
        if block.expires_at > now:
            block.ended_at, block.lifted_by = now, by
            block.save(update_fields=["ended_at", "lifted_by"])
            _event(block, BlockEvent.Kind.LIFTED, now, by)
            if block.ticket_id:
                ticket_services.event_record(block.ticket_id, TicketEvent.Kind.UNBLOCKED,
                                             f"The block of the {block.get_kind_display().lower()} was lifted.",
                                             actor=by, at=now)
            return block
        _expire(block, now)  # kept: the record says it expired, whoever asked
    raise BlockEnded(f"This block had expired already, on {block.expires_at:%Y-%m-%d %H:%M} UTC.")


def blocks_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Close the open blocks whose time has passed (the beat sweep): recorded on the block and its
    ticket. They stopped counting at their expiry already; this keeps the record and the lists tidy.
    Returns how many it closed."""
    now = now or timezone.now()
    closed = 0
    while True:
        with transaction.atomic():
            due = list(Block.objects.select_for_update(skip_locked=True)
                       .filter(ended_at__isnull=True, expires_at__lte=now).order_by("expires_at")[:batch])
            for block in due:
                _expire(block, now)
        closed += len(due)
        if len(due) < batch:
            return closed
