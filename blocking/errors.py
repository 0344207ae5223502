"""Why a block could not be made or lifted: a stable ``code`` (docs/protocol.md) and a message a person
can read."""


class BlockError(Exception):
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BlockInvalid(BlockError):
    code = "invalid"


class BlockNotFound(BlockError):
    code = "not_found"


class BlockEnded(BlockError):
    code = "conflict"
