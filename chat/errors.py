"""Errors a service raises when a request cannot be carried out. Each has a stable ``code`` (part of
the protocol, see docs/protocol.md) and a message a person can read."""


class ChatError(Exception):
    code = "chat_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ChatError):
    code = "invalid"


class NotFound(ChatError):
    code = "not_found"


class NotAllowed(ChatError):
    code = "forbidden"


class ChatClosed(ChatError):
    code = "chat_ended"


class Conflict(ChatError):
    code = "conflict"


class RateLimited(ChatError):
    """Too many of these lately (chat/limits.py): may be sent again after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ChatError):
    """Briefly unable to take this (the database away, every image turn taken): send it again after
    ``retry_after`` seconds."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Blocked(ChatError):
    """The visitor, their address or their IP network is blocked until ``until``. On a socket this
    is not an ``error``: the socket is told (``blocked``) and closed with 4451 (docs/protocol.md)."""

    code = "blocked"
    MESSAGE = "You can't chat with us right now. Please try again later, or contact us another way."

    def __init__(self, until):
        super().__init__(self.MESSAGE)
        self.until = until


class TooLarge(ChatError):
    """A file past the admin's size limit."""

    code = "too_large"


class Unsupported(ChatError):
    """A file of a kind the helpdesk does not take (or the admin does not allow)."""

    code = "unsupported_type"
