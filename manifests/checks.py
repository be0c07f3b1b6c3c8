"""System checks of the app's settings: run by `manage.py check`, `migrate` and `runserver`
(so by `make run` and `make serve` before they serve), not at each request."""

import os

from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from manifests.images import thumbnail_format


@register()
def check_thumbnail_format(app_configs, **kwargs) -> list[Error]:
    try:
        thumbnail_format()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="manifests.E001")]
    return []


@register()
def check_no_media_served_around_the_app(app_configs, **kwargs) -> list[Warning]:
    """VIDPIPE_SERVE_MEDIA=0 went with a web server serving MEDIA_ROOT itself, which would
    serve every file to anyone, signature or not: say so where it is still set."""
    if "VIDPIPE_SERVE_MEDIA" not in os.environ:
        return []
    return [
        Warning(
            "VIDPIPE_SERVE_MEDIA is no longer read: the app checks every media URL's "
            "signature. A web server location serving MEDIA_ROOT at MEDIA_URL must go; see "
            'README "Who may read the files" (internal location, X-Accel-Redirect).',
            id="manifests.W001",
        )
    ]
