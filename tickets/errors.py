"""Errors ticket services raise: a stable ``code`` and a message a person can read. The app that calls
them (chat) passes them on in its own terms."""


class TicketError(Exception):
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidTicketInput(TicketError):
    code = "invalid"


class TicketNotFound(TicketError):
    code = "not_found"
