"""Sign-in protection (django-axes, configured in settings): the client address failures are
counted by, and the page a locked-out client gets instead of the login form."""

import math
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address: the one the outermost of VIDPIPE_PROXY_COUNT trusted proxies
    received the request from, else the connection's peer.

    Each proxy appends the address it received from to X-Forwarded-For, so the client is the
    VIDPIPE_PROXY_COUNT-th entry from the right; anything left of it was written by the client
    and could be anything. A request with fewer entries did not come through the proxies.
    """
    count = settings.VIDPIPE_PROXY_COUNT
    if count:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        addresses = [address.strip() for address in forwarded if address.strip()]
        if len(addresses) >= count:
            return addresses[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """429 with a page that says why sign-in is refused and for how long (also Retry-After)."""
    # Under ASGI axes passes the credentials in the second place; the request keeps them.
    credentials = getattr(request, "axes_credentials", None) or credentials
    remaining = _remaining_cool_off(request, credentials)
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    response = render(
        request,
        "axes/lockout.html",
        {
            "title": "Sign-in refused",
            "failure_limit": get_failure_limit(request, credentials),
            "minutes": minutes,
        },
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(remaining.total_seconds())))
    return response


def _remaining_cool_off(request: HttpRequest, credentials) -> timedelta:
    """Until the latest failure that locks this client out is older than the cool-off: axes
    records no failure while locked out, so that is when the lockout ends."""
    cool_off = get_cool_off(request)
    ends = []
    limit = get_failure_limit(request, credentials)
    for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials):
        counted = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (counted["failures"] or 0) >= limit:
            ends.append(counted["last"] + cool_off)
    if not ends:
        return cool_off
    return max(ends) - timezone.now()
