from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("manifests.urls")),
    path("api-auth/", include("rest_framework.urls")),
]

# Uploaded media is served by Django only in development; production serves MEDIA_ROOT
# from the web server (or uses a remote storage), see README.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
