"""A cap on the bytes daphne holds for one websocket that does not read: past it, close 4408.

Why: daphne hands every frame the application sends to autobahn, which writes it to the Twisted
transport at once; Twisted keeps whatever the peer has not taken in this process's memory, with no
limit. ASGI has no drain signal and daphne no cap. A client that stops reading (a frozen tab, a
stalled link, a script) made the process hold everything its groups sent it until the ping timeout
(~50 s), and then the connection was reset without a close frame.

What ``install()`` changes (helpdesk/asgi.py calls it, so every daphne serving the app has it):
daphne builds its websocket protocol from ``CappedWebSocketProtocol``. Before each frame the
application sends, it reads how many bytes wait unsent on that connection's transport. When the
frame would take them past ``CHAT_SOCKET_MAX_QUEUED_BYTES`` (0: no cap):

- that frame and every later data frame for the socket are dropped: the client resumes by seq;
- the close frame 4408 goes out behind what is queued, so a peer that reads again gets everything
  queued before it, in order, then the close. A client that is only slow gains at least the cap on
  each reconnect;
- the application is told at once that the socket is gone (``websocket.disconnect`` with 4408, the
  message daphne sends when a socket closes; daphne's own ``muted`` flag keeps it from being sent
  twice and makes it ignore frames that still arrive from the peer), and the peer's frames it has
  not taken yet are dropped, so the consumer leaves its groups at once and nothing more is made
  for the socket;
- the peer has ``CHAT_SOCKET_CLOSE_GRACE_SECONDS`` to read up to the close frame and answer it
  (autobahn's closing-handshake timeout, set for this socket; daphne leaves it at autobahn's 1 s).
  Then autobahn aborts the TCP connection, which frees its buffer.

How the bytes are counted: Twisted has no public count of a transport's unsent bytes. Its public
back-pressure API, a streaming producer registered on the transport, says only "above 64 KiB" or
"empty", and the slot is taken: twisted.web's HTTPChannel registered itself there before daphne
upgraded the connection to a websocket, and nothing unregisters it. So the count is read from
``twisted.internet.abstract.FileDescriptor``'s write buffer (``dataBuffer`` from ``offset``, plus
``_tempDataLen``), the base of TCP and UNIX transports; under TLS (daphne's ``-e ssl:...``) the
cleartext that Twisted's TLS layer still holds is added (at most 64 KB it aggregates for the next
reactor turn). The buffer's shape has been the same for many Twisted releases. A transport whose
count cannot be read is not capped, and the process logs an error once. tests/test_backpressure.py
proves the count on a real daphne: if Twisted changes the buffer, it fails.

Written against daphne 4.2, autobahn 26.11 and Twisted 26.10; reread ``WebSocketProtocol.serverSend``
and ``onClose`` (daphne/ws_protocol.py) when upgrading daphne.
"""

import logging

from daphne import ws_protocol
from django.conf import settings
from twisted.internet.abstract import FileDescriptor

log = logging.getLogger(__name__)

CLOSE_FELL_BEHIND = 4408
CLOSE_REASON = "fell behind: reconnect and resume"

_uncounted_logged = False


def unsent_bytes(transport) -> int | None:
    """Bytes written to ``transport`` that the peer has not taken yet, None if they cannot be
    counted. A wrapping transport (TLS) is counted with the transport below it."""
    queued = 0
    for _ in range(4):
        if isinstance(transport, FileDescriptor):
            try:
                return queued + len(transport.dataBuffer) - transport.offset + transport._tempDataLen
            except AttributeError:
                return None
        # TLS (twisted.protocols.tls) holds cleartext: up to 64 KB of small writes it aggregates for
        # the next reactor turn, and what OpenSSL would not take yet. The ciphertext goes below.
        aggregator = getattr(transport, "_aggregator", None)
        if hasattr(aggregator, "_bufferLeft"):
            queued += aggregator.MAX_BUFFER_SIZE - aggregator._bufferLeft
        queued += sum(map(len, getattr(transport, "_appSendBuffer", ())))
        transport = getattr(transport, "transport", None)
        if transport is None:
            return None
    return None


class CappedWebSocketProtocol(ws_protocol.WebSocketProtocol):
    """daphne's websocket protocol with a cap on what waits unsent for the peer."""

    fell_behind = False

    def serverSend(self, content, binary=False):
        if self.fell_behind:
            return  # dropped: the client resumes by seq after it reconnects
        cap = settings.CHAT_SOCKET_MAX_QUEUED_BYTES
        if cap > 0 and self.state == self.STATE_OPEN:
            queued = self._unsent_bytes()
            # ``len`` of the text is its size on the wire: the consumers send ASCII JSON (json.dumps).
            if queued and queued + len(content) > cap:
                self._close_fell_behind(queued)
                return
        super().serverSend(content, binary)

    def _unsent_bytes(self) -> int | None:
        global _uncounted_logged
        queued = unsent_bytes(self.transport)
        if queued is not None:
            return queued + sum(len(data) for data, _ in self.send_queue)  # autobahn's own (unused by daphne)
        if not _uncounted_logged:
            _uncounted_logged = True
            log.error("Cannot count the unsent bytes of %r: websockets on it are not capped "
                      "(CHAT_SOCKET_MAX_QUEUED_BYTES). See helpdesk/backpressure.py.", self.transport)
        return None

    def _close_fell_behind(self, queued: int) -> None:
        self.fell_behind = True
        log.warning("websocket %s %s fell behind: %d bytes unsent (cap %d); closed with %d",
                    self.client_addr, self.path.decode("ascii", "replace"), queued,
                    settings.CHAT_SOCKET_MAX_QUEUED_BYTES, CLOSE_FELL_BEHIND)
        # autobahn rounds its timers down to the second: one more makes the grace at least the setting.
        self.closeHandshakeTimeout = settings.CHAT_SOCKET_CLOSE_GRACE_SECONDS + 1
        self.sendClose(code=CLOSE_FELL_BEHIND, reason=CLOSE_REASON)
        if not self.muted and hasattr(self, "application_queue"):
            _drop_frames_not_taken(self.application_queue)
            self.application_queue.put_nowait({"type": "websocket.disconnect", "code": CLOSE_FELL_BEHIND})
        self.muted = True


def _drop_frames_not_taken(queue) -> None:
    """Drop the peer's frames that the application has not taken yet, so that it hears of the
    disconnect now rather than after working through them (a peer that asks for a lot and reads
    nothing has usually sent many). Frames of a closed socket are not acted on; the client sends
    its outbox again on its next socket."""
    kept = []
    while not queue.empty():
        message = queue.get_nowait()
        if message["type"] != "websocket.receive":
            kept.append(message)
    for message in kept:
        queue.put_nowait(message)


def install() -> None:
    """Make daphne build its websocket connections with the cap. Call before daphne's server runs
    (it builds its websocket factory then); loading the ASGI application is early enough."""
    ws_protocol.WebSocketFactory.protocol = CappedWebSocketProtocol
