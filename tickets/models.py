"""Departments and tickets. Tickets know nothing of chats: a chat points at its ticket, not the reverse."""

from django.conf import settings
from django.db import models

TICKET_REF_PREFIX = "HD-"


class Department(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True, help_text="Offered to visitors in the chat widget.")
    position = models.PositiveIntegerField(default=0, help_text="Order in the widget's department list.")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester_name = models.CharField(max_length=100)
    requester_email = models.EmailField()
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def ref(self) -> str:
        """The reference agents and requesters quote, derived from the primary key."""
        return f"{TICKET_REF_PREFIX}{self.pk:06d}" if self.pk else ""

    def __str__(self):
        return f"{self.ref} {self.subject}"
