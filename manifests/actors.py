"""Who is acting: the user of a request, or the management command that runs.

The event writer (`manifests.services.events`) reads it, so services need no `actor`
argument: `ActorMiddleware` names the request (whose user DRF's token authentication may
set later, inside the view: it is read when the event is written), and commands run inside
`acting_as("command:<name>")`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

SYSTEM = "system"

_actor: ContextVar[str | HttpRequest | None] = ContextVar("vidpipe_actor", default=None)


@contextmanager
def acting_as(actor: "str | HttpRequest") -> Iterator[None]:
    """Changes made in the block are made by `actor` (a name, or a request's user)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str:
    """`user:<username>`, `command:<name>`, or `system` when nothing says who."""
    actor = _actor.get()
    if isinstance(actor, str):
        return actor
    if actor is not None:
        user = getattr(actor, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.get_username()}"
        return "anonymous"
    return SYSTEM


class ActorMiddleware:
    """Every change a request makes is made by its user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_as(request):
            return self.get_response(request)
