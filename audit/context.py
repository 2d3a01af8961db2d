"""Who is acting, from where, in which request: set around each request and read by the recorder.

Services never see a request. The middleware (`audit.middleware`) opens an origin for every
request; the actor in it is resolved when a change is recorded, so that it is whoever the API's
authentication or the admin's session has made the caller by then. Outside a request (management
commands, shells, jobs) the actor is `system`; code may name another with `acting`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .models import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str = ""
    display: str = ""


SYSTEM = Actor(ActorKind.SYSTEM, "", "system")


@dataclass(frozen=True)
class Origin:
    actor: Callable[[], Actor]
    ip: str | None = None
    request_id: str = ""
    # (action, object type, object id) recorded so far, for writers that must not record twice.
    recorded: set = field(default_factory=set)


_origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


@contextmanager
def acting(actor: Actor | Callable[[], Actor], *, ip: str | None = None, request_id: str = "") -> Iterator[Origin]:
    """Changes recorded inside are attributed to `actor` (or to what the callable returns then)."""
    resolve = actor if callable(actor) else (lambda: actor)
    token = _origin.set(Origin(resolve, ip or None, request_id))
    try:
        yield _origin.get()
    finally:
        _origin.reset(token)


def current() -> tuple[Actor, Origin | None]:
    origin = _origin.get()
    return (SYSTEM, None) if origin is None else (origin.actor(), origin)
