"""A file sent in a chat reaches everyone in it as a message, resumes like one, and stays in the
ticket: the conversation page links to it for agents, and the transcript email to the visitor carries a
signed link that opens it."""

import io
import re
from urllib.parse import unquote

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from PIL import Image

from chat import services
from chat.models import Chat
from tests import live
from tests.factories import AgentFactory
from tests.smtp import free_port, smtp_fixture, smtp_server_fixture, use_smtp  # noqa: F401 (fixtures)
from tests.test_attachments import body_of
from tickets.models import TranscriptLine

pytestmark = [pytest.mark.django_db(transaction=True)]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(buffer, "PNG")
    return buffer.getvalue()


async def test_an_upload_reaches_the_chats_sockets_and_resumes_as_a_message(layer, async_client):
    user = await database_sync_to_async(AgentFactory)()
    visitor, welcome = await live.visitor()
    chat = await live.start_chat(visitor)
    agent, _ = await live.agent(user)
    await agent.send({"type": "chat.watch", "chat": chat["id"], "after_seq": 0})
    await agent.expect("resumed")

    response = await async_client.post(
        f"/chat/{chat['id']}/uploads/", data=png(), content_type="image/png",
        headers={"X-Visitor-Token": welcome["token"], "X-Client-Id": "photo-1", "X-File-Name": "photo.png"})
    assert response.status_code == 201, response.content
    sent = response.json()["message"]

    for socket in (agent, visitor):  # the uploader's own widget too: it drops a seq it has
        got = await socket.expect_message(client_id="photo-1")
        assert got["seq"] == sent["seq"] == 2
        assert got["attachment"] == sent["attachment"]
        assert got["attachment"]["kind"] == "image" and got["attachment"]["name"] == "photo.png"

    await visitor.send({"type": "resume", "chat": chat["id"], "after_seq": 1})
    resumed = await visitor.expect_message(seq=2)
    assert resumed["attachment"] == sent["attachment"]
    await visitor.close()
    await agent.close()


@pytest.fixture
def ended_chat_with_a_file(settings):
    settings.HELPDESK_BASE_URL = "http://testserver"
    from tests.factories import VisitorFactory, start_chat

    visitor = VisitorFactory()
    chat = start_chat(visitor, email="sam@example.com")
    client = Client()
    response = client.post(f"/chat/{chat.public_id}/uploads/", data=png(), content_type="image/png",
                           headers={"X-Visitor-Token": visitor.token, "X-Client-Id": "f", "X-File-Name": "shot.png"})
    assert response.status_code == 201
    ref = response.json()["message"]["attachment"]["ref"]
    services.chat_end(chat_public_id=chat.public_id, actor=services.Actor.for_visitor(visitor.pk))
    return Chat.objects.get(pk=chat.pk), ref


def test_the_ticket_keeps_the_file_and_its_page_links_to_it(ended_chat_with_a_file):
    chat, ref = ended_chat_with_a_file
    line = TranscriptLine.objects.get(ticket_id=chat.ticket_id, attachment_ref=ref)
    assert (line.attachment_name, line.attachment_type) == ("shot.png", "image/png")
    agent = Client()
    agent.force_login(AgentFactory())
    page = agent.get(f"/console/tickets/{chat.ticket.ref}/").content.decode()
    assert f'href="/files/{ref}/?download=1"' in page and f'src="/files/{ref}/thumbnail/"' in page
    assert agent.get(f"/files/{ref}/thumbnail/").status_code == 200
    assert Client().get(f"/files/{ref}/").status_code == 403


def test_the_transcript_email_links_to_the_file_for_its_recipient(smtp, ended_chat_with_a_file):
    chat, ref = ended_chat_with_a_file
    [got] = smtp.wait_for(1)
    text = got.part("text/plain")
    [(linked, token)] = re.findall(r"http://testserver/files/([^/\s]+)/\?t=(\S+)", text)
    assert linked == ref and "File: shot.png" in text
    opened = Client().get(f"/files/{ref}/?t={unquote(token)}")
    assert opened.status_code == 200 and opened["Content-Type"] == "image/png"
    assert body_of(opened).startswith(b"\x89PNG")
