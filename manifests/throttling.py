"""API rate limits, read from settings at request time (`VIDPIPE_THROTTLE_RATES`).

DRF's own throttles copy their rates when the class is defined; these read them per
request, so the rates are plain settings that deployments and tests can change.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SettingsRateMixin:
    def get_rate(self) -> str | None:
        return settings.VIDPIPE_THROTTLE_RATES.get(self.scope)


class AnonymousThrottle(SettingsRateMixin, AnonRateThrottle):
    """Requests without credentials, counted per client address."""


class UserThrottle(SettingsRateMixin, UserRateThrottle):
    """Requests of a signed-in user, counted per user."""
