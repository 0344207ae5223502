"""A cap on request bodies, applied by daphne as the bytes arrive, before the application sees them.

Why: daphne (Twisted's HTTP server) reads a whole request body before it calls the application,
into memory below 100 KB and into a temporary file above, with no limit; Django's ASGI handler then
copies it again. A 200 MB upload was taken in full before any view could refuse it. ``install()``
makes daphne's requests count what they receive:

- a body whose Content-Length is past the cap is refused before a byte of it is read;
- a body that grows past the cap (chunked, or longer than it said) is cut off there: nothing more of
  it is kept, the application is never called;
- either way the client gets ``413`` with the JSON error body of an upload (docs/protocol.md,
  "Files"), ``Connection: close``, and the connection is closed after ``LINGER_SECONDS`` during which
  what it still sends is read and dropped, so that a client busy sending can read the answer.

The cap: for the upload paths, the admin's largest file, as this process last read it (a thread
started with daphne's first request reads it every ``REFRESH_SECONDS``, and the upload view tells
it each time it reads it: ``remember_limit``; ``UPLOAD_MAX_MB_CEILING`` until the first read); for
every other path ``HTTP_MAX_BODY_BYTES`` (forms and admin pages are small).

Written against daphne 4.2 and Twisted 26.10 (``twisted.web.http.Request.gotLength`` and
``handleContentChunk``, ``HTTPChannel.requestDone``); reread them when upgrading.
"""

import json
import logging
import re
import threading
import time

from daphne import http_protocol
from django.conf import settings
from twisted.internet import reactor

log = logging.getLogger(__name__)

UPLOAD_PATH_RE = re.compile(rb"^/(chat|console/chats)/[^/?]+/uploads/(\?|$)")
LINGER_SECONDS = 2.0
REFRESH_SECONDS = 10.0
MEGABYTE = 1024 * 1024

_upload_limit: int | None = None
_refresher: threading.Thread | None = None


def remember_limit(max_bytes: int) -> None:
    """The admin's largest file, as the upload view just read it (it changes rarely)."""
    global _upload_limit
    _upload_limit = max_bytes


def _refresh_forever() -> None:
    from django.db import close_old_connections, connection

    from chat import selectors

    while True:
        try:
            remember_limit(selectors.upload_settings().max_bytes)
        except Exception:  # the database away: keep the last value
            log.warning("could not read the upload limit; keeping %s bytes", upload_limit(), exc_info=True)
        finally:
            close_old_connections()
            connection.close()
        time.sleep(REFRESH_SECONDS)


def _ensure_refresher() -> None:
    """Only in a daphne that serves requests (not in a process that merely imports the app)."""
    global _refresher
    if _refresher is None:
        _refresher = threading.Thread(target=_refresh_forever, name="upload-limit", daemon=True)
        _refresher.start()


def upload_limit() -> int:
    from chat.models import UPLOAD_MAX_MB_CEILING

    return _upload_limit if _upload_limit is not None else UPLOAD_MAX_MB_CEILING * MEGABYTE


def path_of(target: bytes) -> bytes:
    """The path of a request target, also in absolute form (``POST http://host/chat/…``)."""
    target = target or b""
    if not target.startswith(b"/"):
        target = b"/" + target.split(b"://", 1)[-1].partition(b"/")[2]
    return target


def is_upload(target: bytes) -> bool:
    return bool(UPLOAD_PATH_RE.match(path_of(target)))


def limit_for(target: bytes) -> int:
    return upload_limit() if is_upload(target) else settings.HTTP_MAX_BODY_BYTES


def _too_large_body(limit: int, upload: bool) -> bytes:
    if upload:
        size = f"{limit / MEGABYTE:.0f} MB" if limit >= MEGABYTE else f"{limit // 1024} KB"
        message = f"This file is larger than {size}, the most that can be sent here."
    else:
        message = "This request is too large."
    return json.dumps({"error": {"code": "too_large", "message": message}}).encode()


class GuardedRequest(http_protocol.WebRequest):
    """daphne's request, with the body counted as it arrives (see the module's docstring)."""

    _body_limit = None
    _body_received = 0
    _body_refused = False

    def gotLength(self, length):
        _ensure_refresher()
        path = getattr(self.channel, "_path", b"") or b""
        self._body_limit = limit_for(path)
        self._body_upload = is_upload(path)
        if length is not None and length > self._body_limit:
            # Answered now: the client must not be told to go on (Twisted sends "100 Continue"
            # after this to a request that expects it).
            self.requestHeaders.removeHeader(b"expect")
            self._refuse_body()
            super().gotLength(0)  # keep nothing
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self._body_refused:
            return
        self._body_received += len(data)
        if self._body_limit is not None and self._body_received > self._body_limit:
            self._refuse_body()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if self._body_refused:
            return  # answered already; the application never sees it
        super().requestReceived(command, path, version)

    def _refuse_body(self):
        if self._body_refused:
            return
        self._body_refused = True
        try:
            self.content.close()
        except Exception:
            pass
        body = _too_large_body(self._body_limit, self._body_upload)
        transport = self.channel.transport
        transport.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        log.info("refused a request body past %d bytes", self._body_limit)
        reactor.callLater(LINGER_SECONDS, transport.loseConnection)


_daphne_build_protocol = http_protocol.HTTPFactory.buildProtocol


def _build_guarded_protocol(factory, addr):
    protocol = _daphne_build_protocol(factory, addr)
    protocol.requestFactory = GuardedRequest
    return protocol


def install() -> None:
    """Make daphne build its HTTP requests with the cap. Call before daphne's server starts (it
    builds its HTTP factory then); loading the ASGI application is early enough."""
    http_protocol.HTTPFactory.buildProtocol = _build_guarded_protocol
