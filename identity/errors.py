"""Domain errors that services raise and the API kit turns into answers; services never know HTTP."""


class Conflict(Exception):
    """A uniqueness constraint refused the write; `field` names what collided."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(Exception):
    """Something a service was asked for is not in the caller's tenant."""
