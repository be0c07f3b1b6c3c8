"""The site's icon: /favicon.ico answers (browsers ask for it on every page) and the admin's
pages link it. The production path (collectstatic, whitenoise, gunicorn) is checked in
test_production."""

import io

import pytest
from django.templatetags.static import static
from django.urls import reverse
from PIL import Image

FAVICON = static("vidpipe/favicon.ico")


@pytest.fixture
def development_static(settings):
    """Static files straight from the apps' and the site's folders, as with DEBUG on."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


def test_favicon_ico_answers_reads_only(client):
    assert client.head("/favicon.ico").status_code == 302
    assert client.post("/favicon.ico").status_code == 405


def test_favicon_ico_leads_to_a_real_icon(client, development_static):
    response = client.get("/favicon.ico", follow=True)

    assert response.redirect_chain == [(FAVICON, 302)]
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    icon = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]


def test_admin_pages_link_the_icon_and_keep_the_site_header(client, admin_user, make_manifest):
    manifest = make_manifest("Villains")
    pages = [client.get(reverse("admin:login"))]
    client.force_login(admin_user)
    for url in [
        reverse("admin:index"),
        reverse("admin:manifests_manifest_changelist"),
        reverse("admin:manifests_manifest_change", args=[manifest.pk]),
        reverse("admin:manifests_manifest_duplicate", args=[manifest.pk]),
    ]:
        pages.append(client.get(url))

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert f'<link rel="icon" href="{FAVICON}"' in html, page.request["PATH_INFO"]
        assert '<div id="site-name"><a href="/admin/">vidpipe manifests</a></div>' in html
