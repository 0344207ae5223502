"""daphne cuts an upload off past the admin's largest file as it arrives (helpdesk/upload_guard.py):
a declared size past it before a byte of the body is kept, a body that grows past it where it
passes. Nothing is stored, and the server goes on serving."""

import json
import socket
import time

import pytest
from django.db import connection

from chat.models import Attachment, ChatSettings
from tests.factories import VisitorFactory, start_chat
from tests.live_server import LiveHelpdesk, server_env

pytestmark = [pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024


@pytest.fixture
def server(tmp_path):
    ChatSettings.objects.create(upload_max_mb=1)
    helpdesk = LiveHelpdesk(server_env(connection.settings_dict), tmp_path / "daphne.log")
    helpdesk.start()
    yield helpdesk
    helpdesk.stop()


def _request_head(server, chat, visitor, length_header: str) -> bytes:
    return (f"POST /chat/{chat.public_id}/uploads/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"X-Visitor-Token: {visitor.token}\r\nX-Client-Id: big\r\nX-File-Name: big.txt\r\n"
            f"{length_header}\r\n\r\n").encode()


def _read_answer(sock) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _declared_too_large(server, chat, visitor) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request_head(server, chat, visitor, f"Content-Length: {50 * MB}"))
        return _read_answer(sock)


def _wait_for_the_guard_to_know_the_limit(server, chat, visitor):
    """The guard reads the admin's limit on a thread started by the first request: until then it
    cuts at the ceiling. A declared 2 MB is refused once it knows 1 MB."""
    deadline = time.monotonic() + 20
    while True:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_request_head(server, chat, visitor, f"Content-Length: {2 * MB}"))
            try:
                status = int(sock.recv(64).split()[1])
            except (OSError, IndexError) as exc:
                print("no answer", repr(exc))
                status = 0
        if status == 413:
            return
        assert time.monotonic() < deadline, "the guard never learnt the admin's limit"
        time.sleep(0.2)


def test_a_declared_size_past_the_limit_is_refused_before_the_body(server):
    visitor = VisitorFactory()
    chat = start_chat(visitor)
    _wait_for_the_guard_to_know_the_limit(server, chat, visitor)
    status, body = _declared_too_large(server, chat, visitor)
    assert status == 413
    assert body == {"error": {"code": "too_large",
                              "message": "This file is larger than 1 MB, the most that can be sent here."}}
    assert not Attachment.objects.exists()


def test_a_body_that_grows_past_the_limit_is_cut_off_where_it_passes(server):
    visitor = VisitorFactory()
    chat = start_chat(visitor)
    _wait_for_the_guard_to_know_the_limit(server, chat, visitor)
    sent, answer, chunk = 0, None, b"x" * 65536
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request_head(server, chat, visitor, "Transfer-Encoding: chunked"))
        sock.settimeout(0.01)
        try:
            while sent < 256 * MB:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                try:
                    answer = sock.recv(65536)
                except TimeoutError:
                    continue
                break
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    assert sent < 32 * MB, f"the server took {sent / MB:.0f} MB of a 1 MB limit"
    if answer:  # else the connection was reset under a client still sending: refused all the same
        assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer
    assert not Attachment.objects.exists()
    # And the server goes on.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        body = b"small file\n"
        sock.sendall(_request_head(server, chat, visitor, f"Content-Length: {len(body)}").replace(b"big", b"ok") + body)
        status, answer = _read_answer(sock)
    assert status == 201 and answer["message"]["attachment"]["name"] == "ok.txt"


def test_a_client_that_expects_100_continue_is_told_413_only(server):
    visitor = VisitorFactory()
    chat = start_chat(visitor)
    _wait_for_the_guard_to_know_the_limit(server, chat, visitor)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request_head(server, chat, visitor, f"Content-Length: {50 * MB}\r\nExpect: 100-continue"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer


def test_an_absolute_form_request_line_gets_the_upload_limit():
    from helpdesk import upload_guard

    assert upload_guard.is_upload(b"http://help.example.com/chat/K7QX2MPA/uploads/")
    assert upload_guard.is_upload(b"/console/chats/K7QX2MPA/uploads/?x=1")
    assert not upload_guard.is_upload(b"http://help.example.com/accounts/login/")
