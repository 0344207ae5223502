"""Who is an agent: an active Django user holding ``chat.act_as_agent`` (directly, through a group
such as "Agents", or as a superuser). Used by the console views and the agent socket alike.

Rights follow the user: an open agent socket asks ``agent_rights`` again every few seconds and at
once when the user's rights may have changed (``chat.rights``), and closes when the answer is no."""

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.decorators import user_passes_test
from django.contrib.sessions.backends.db import SessionStore
from django.utils.crypto import constant_time_compare

AGENT_PERMISSION = "chat.act_as_agent"

LOGGED_OUT = "logged_out"
NOT_AGENT = "not_agent"


def is_agent(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(AGENT_PERMISSION))


def agent_required(view):
    """Login required; a logged-in user who is not an agent is sent to the login page too, which
    says why."""
    return user_passes_test(is_agent)(view)


def agent_rights(user_id: int, session_key: str | None) -> str | None:
    """None while this user, on this session, may act as an agent; else why not: ``LOGGED_OUT`` (the
    session ended, was flushed, or the password changed since; the user was deactivated or deleted)
    or ``NOT_AGENT`` (the agent permission is gone). Read fresh from the database each time."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return LOGGED_OUT
    if session_key is not None:
        session = SessionStore(session_key).load()
        if str(session.get(SESSION_KEY)) != str(user.pk) or not constant_time_compare(
                session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            return LOGGED_OUT
    if not user.has_perm(AGENT_PERMISSION):
        return NOT_AGENT
    return None
