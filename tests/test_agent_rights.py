"""Rights follow the user: an open agent socket closes within seconds of its user's logout,
deactivation or loss of the agent permission, and acts on no frame after it (chat.permissions,
chat.rights)."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.test import Client

from chat.agents_group import AGENTS_GROUP_NAME
from chat.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, RIGHTS_CACHE_SECONDS

from . import live
from .factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def _agent_in_group():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=AGENTS_GROUP_NAME))
    client = Client()
    client.force_login(user)
    return user, client


async def _open_console(user, client):
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = await live.connect("/ws/agent/", headers=(live.OWN_ORIGIN, (b"cookie", cookie)))
    await socket.expect("welcome")
    return socket


def _logout(user, client):
    client.logout()  # the console's Log out: the session ends, user_logged_out is sent


def _deactivate(user, client):
    user.is_active = False
    user.save(update_fields=["is_active"])


def _leave_agents_group(user, client):
    user.groups.remove(Group.objects.get(name=AGENTS_GROUP_NAME))


def _agents_group_loses_the_permission(user, client):
    Group.objects.get(name=AGENTS_GROUP_NAME).permissions.remove(
        Permission.objects.get(codename="act_as_agent", content_type__app_label="chat"))


def _group_removed_from_the_user_side(user, client):
    Group.objects.get(name=AGENTS_GROUP_NAME).user_set.remove(user)


def _password_changed(user, client):
    user.set_password("a-new-password-123")
    user.save()


def _session_deleted_without_a_signal(user, client):
    Session.objects.all().delete()  # a bulk delete sends no signal: the periodic check finds it


REVOCATIONS = [
    (_logout, CLOSE_UNAUTHENTICATED),
    (_deactivate, CLOSE_UNAUTHENTICATED),
    (_password_changed, CLOSE_UNAUTHENTICATED),
    (_leave_agents_group, CLOSE_FORBIDDEN),
    (_group_removed_from_the_user_side, CLOSE_FORBIDDEN),
    (_agents_group_loses_the_permission, CLOSE_FORBIDDEN),
    (_session_deleted_without_a_signal, CLOSE_UNAUTHENTICATED),
]


@pytest.mark.parametrize(("revoke", "code"), REVOCATIONS, ids=[r.__name__.strip("_") for r, _ in REVOCATIONS])
async def test_an_open_agent_socket_closes_when_its_rights_go(layer, revoke, code):
    user, client = await _agent_in_group()
    socket = await _open_console(user, client)
    await database_sync_to_async(revoke)(user, client)
    output = await socket.communicator.receive_output(timeout=RIGHTS_CACHE_SECONDS * 3)
    while output["type"] != "websocket.close":  # frames already on their way
        output = await socket.communicator.receive_output(timeout=RIGHTS_CACHE_SECONDS * 3)
    assert output.get("code") == code
    await socket.communicator.wait()


async def test_no_frame_is_acted_on_after_the_rights_are_gone(layer, monkeypatch):
    """With no signal heard (as if the channel layer dropped it) and no periodic check, the check
    before a frame whose rights are older than the cache bound stands between the frame and the chat
    (here the bound is 0: every frame)."""
    from chat import consumers
    from chat.models import Chat

    async def no_timer(self):  # only the check before each frame is left
        return None

    monkeypatch.setattr(consumers, "RIGHTS_CACHE_SECONDS", 0)
    monkeypatch.setattr(consumers.AgentConsumer, "_recheck_rights_periodically", no_timer)
    user, client = await _agent_in_group()
    socket = await _open_console(user, client)
    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor)
    await socket.expect("chat", **{"chat.id": chat["id"]})
    await database_sync_to_async(_session_deleted_without_a_signal)(user, client)
    await socket.send({"type": "chat.accept", "chat": chat["id"]})
    output = await socket.communicator.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        assert '"chat.accept"' not in output.get("text", ""), output
        output = await socket.communicator.receive_output(timeout=10)
    assert output["code"] == CLOSE_UNAUTHENTICATED
    status = await database_sync_to_async(lambda: Chat.objects.get(public_id=chat["id"]).status)()
    assert status == "queued", "the accept of a logged-out agent was not carried out"
    await visitor.close()
