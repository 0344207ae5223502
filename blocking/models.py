"""Blocks: a visitor, an email address or an IP network kept from chatting until a time.

A block counts while it is open (``ended_at`` unset) and its ``expires_at`` is in the future, checked at
the moment of the question (``blocking.selectors``): expiry is exact without any worker. The sweep
(``blocking.tasks``) only closes what has expired, for the record and to keep the lists short. One open
block per target (a database constraint): blocking again extends it, and both are in its history.

``blocking`` knows nothing of chats: a visitor is its number, the ticket the one the block was made
from (its timeline records the block), and the address a network in CIDR form.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .networks import IPV6_PREFIXES


class Block(models.Model):
    class Kind(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        EMAIL = "email", "Email address"
        IP = "ip", "IP address"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The visitor's number, the address in lower case, or the network ("203.0.113.7/32", "2001:db8:1:2::/64").
    value = models.CharField(max_length=254)
    reason = models.TextField()
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    # Ended: lifted early (``lifted_by``) or found expired by the sweep. A block with ``ended_at`` no
    # longer counts, whatever ``expires_at`` says.
    ended_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-created_at"]
        permissions = [("block_visitor", "Can block visitors and their IP addresses")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=models.Q(ended_at__isnull=True),
                                    name="block_one_open_per_target"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="block_target")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.value}"


class BlockEvent(models.Model):
    """What happened to a block: made, extended (blocked again while open), lifted, expired."""

    class Kind(models.TextChoices):
        CREATED = "created", "Blocked"
        EXTENDED = "extended", "Blocked again: extended"
        LIFTED = "lifted", "Lifted"
        EXPIRED = "expired", "Expired"

    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    by_name = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class BlockSettings(models.Model):
    """An admin's settings of blocks. One row."""

    duration_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
        help_text="How long a block lasts, from when an agent makes it.",
    )
    ipv6_prefix = models.PositiveIntegerField(
        "IPv6 block prefix", default=64, choices=[(p, f"/{p}") for p in IPV6_PREFIXES],
        help_text="An IPv6 block covers the address's network of this size: /64 by default, since a device's "
        "privacy addresses change within its /64.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "block settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="block_settings_single_row")]

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def __str__(self):
        return "Block settings"
