"""`/favicon.ico`, which browsers request on every page whatever the page links to."""

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_safe

FAVICON = "vidpipe/favicon.ico"


@require_safe
def favicon(request):
    """Redirect to the static icon: its hashed, long-cached name in production (whitenoise),
    looked up per request, since the manifest of hashed names exists only after
    collectstatic."""
    return HttpResponseRedirect(static(FAVICON))
