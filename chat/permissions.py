"""Who is an agent: an active Django user holding ``chat.act_as_agent`` (directly, through a group
such as "Agents", or as a superuser). Used by the console views and the agent socket alike."""

from django.contrib.auth.decorators import user_passes_test

AGENT_PERMISSION = "chat.act_as_agent"


def is_agent(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(AGENT_PERMISSION))


def agent_required(view):
    """Login required; a logged-in user who is not an agent is sent to the login page too, which
    says why."""
    return user_passes_test(is_agent)(view)
