"""System checks of the app's settings: run by `manage.py check`, `migrate` and `runserver`
(so by `make run` and `make serve` before they serve), not at each request."""

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from manifests.images import thumbnail_format


@register()
def check_thumbnail_format(app_configs, **kwargs) -> list[Error]:
    try:
        thumbnail_format()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="manifests.E001")]
    return []
