"""State changes of tickets. Called by other apps inside their own transactions."""

from django.contrib.auth.models import AbstractBaseUser

from .models import Department, Ticket


def ticket_open(
    *, subject: str, requester_name: str, requester_email: str, department: Department | None, language: str = ""
) -> Ticket:
    return Ticket.objects.create(
        subject=subject[:200],
        requester_name=requester_name,
        requester_email=requester_email,
        department=department,
        language=language,
    )


def ticket_assign(*, ticket_id: int, agent: AbstractBaseUser | None) -> None:
    Ticket.objects.filter(pk=ticket_id).update(assigned_agent=agent)
