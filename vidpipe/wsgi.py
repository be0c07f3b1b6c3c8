"""WSGI entry point (gunicorn vidpipe.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vidpipe.settings")

application = get_wsgi_application()
