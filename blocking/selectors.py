"""The question "may this visitor chat now?", and what agents see of earlier blocks."""

from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from .models import Block, BlockSettings
from .networks import networks_of

SETTINGS_CACHE_SECONDS = 3
SETTINGS_CACHE_KEY = "blocking:settings"


def normal_email(email: str | None) -> str:
    return (email or "").strip().lower()


def _targets(visitor_id: int | None, email: str | None, ip: str | None) -> Q | None:
    targets = Q()
    if visitor_id:
        targets |= Q(kind=Block.Kind.VISITOR, value=str(visitor_id))
    if normal_email(email):
        targets |= Q(kind=Block.Kind.EMAIL, value=normal_email(email))
    networks = networks_of(ip)
    if networks:
        targets |= Q(kind=Block.Kind.IP, value__in=networks)
    return targets or None


def block_for(*, visitor_id: int | None = None, email: str | None = None, ip: str | None = None,
              now: datetime | None = None) -> Block | None:
    """The block that keeps this visitor, address or IP from chatting at ``now`` (default: the
    clock), the one that lasts longest; None when they may chat. A block counts while it is open and
    its expiry is in the future, whether or not the sweep has run."""
    targets = _targets(visitor_id, email, ip)
    if targets is None:
        return None
    return (Block.objects.filter(targets, ended_at__isnull=True, expires_at__gt=now or timezone.now())
            .order_by("-expires_at").first())


def blocks_of(*, visitor_id: int | None = None, email: str | None = None, ip: str | None = None,
              limit: int = 20) -> list[Block]:
    """Every block, current or past, of this visitor, address or IP, newest first (for the agents'
    Chat tab)."""
    targets = _targets(visitor_id, email, ip)
    if targets is None:
        return []
    return list(Block.objects.filter(targets).select_related("created_by", "lifted_by")
                .order_by("-created_at")[:limit])


def block_settings() -> BlockSettings:
    """The admin's settings, cached for a few seconds per process."""
    value = cache.get(SETTINGS_CACHE_KEY)
    if value is None:
        value = BlockSettings.objects.filter(pk=1).first() or BlockSettings()
        cache.set(SETTINGS_CACHE_KEY, value, SETTINGS_CACHE_SECONDS)
    return value


def forget_cached_settings() -> None:
    cache.delete(SETTINGS_CACHE_KEY)
