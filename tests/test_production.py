"""Production settings and the production serving path, checked for real."""

import http.client
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from manifests.media_urls import signed_query
from tests.conftest import image_bytes, image_upload, unsigned
from tests.processes import gunicorn, manage, production_env


def test_deploy_checklist_is_clean_with_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "DEBUG")
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = manage(env, "check", check=False)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_gunicorn_serves_the_app_and_whitenoise_its_static_files(tmp_path):
    # Behind a TLS proxy: the proxy sets X-Forwarded-Proto, Django trusts it.
    env = production_env(tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER="1")
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    https = {"X-Forwarded-Proto": "https"}
    with gunicorn(env, headers=https) as base:
        login = urllib.request.urlopen(
            urllib.request.Request(f"{base}/admin/login/", headers=https), timeout=5
        )
        assert login.status == 200
        assert login.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" in login.headers
        page = login.read().decode()
        css = page.split('href="/static/')[1].split('"')[0]
        assert ".css" in css
        static = urllib.request.urlopen(
            urllib.request.Request(f"{base}/static/{css}", headers=https), timeout=5
        )
        assert static.status == 200
        assert "max-age" in static.headers["Cache-Control"]  # hashed name: cached for good
        icon_link = page.split('<link rel="icon" href="')[1].split('"')[0]
        favicon = urllib.request.urlopen(
            urllib.request.Request(f"{base}/favicon.ico", headers=https), timeout=5
        )
        assert favicon.status == 200  # after a redirect to the hashed static file
        assert urlsplit(favicon.url).path == icon_link != "/static/vidpipe/favicon.ico"
        assert favicon.headers["Content-Type"] == "image/x-icon"
        for path, status in [
            ("/api/manifests", 401),
            ("/media/manifests/x.png", 403),  # media needs a signed URL, in production too
        ]:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(
                    urllib.request.Request(f"{base}{path}", headers=https), timeout=5
                )
            assert refused.value.code == status, path
        netloc = urlsplit(base).netloc
        plain = http.client.HTTPConnection(netloc, timeout=5)
        plain.request("GET", "/api/manifests")
        redirect = plain.getresponse()
        assert redirect.status == 301  # plain HTTP is sent to https
        assert redirect.headers["Location"] == f"https://{netloc}/api/manifests"


def test_media_is_served_with_its_decoded_type_and_nosniff(api, make_manifest, make_asset):
    asset = make_asset(make_manifest())
    response = api.post(
        f"/api/assets/{asset.pk}/upload",
        {"file": image_upload("page.html", fmt="GIF")},
        format="multipart",
    )
    url = response.json()["reference_image_url"]
    assert unsigned(url).endswith("_page.gif")

    served = api.get(url)

    assert served["Content-Type"] == "image/gif"
    assert served["X-Content-Type-Options"] == "nosniff"


def test_gunicorn_alone_streams_media_for_a_signed_url_only(tmp_path, settings):
    # Without a web server's accel location the app sends the bytes itself.
    env = production_env(tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER="1")
    manage(env, "migrate", "--noinput")
    name = "manifests/m/uploads/a_hero.png"
    content = image_bytes(size=(30, 20))
    (tmp_path / "media" / name).parent.mkdir(parents=True)
    (tmp_path / "media" / name).write_bytes(content)
    settings.SECRET_KEY = env["DJANGO_SECRET_KEY"]  # signed as the server signs
    https = {"X-Forwarded-Proto": "https"}
    with gunicorn(env, headers=https) as base:
        signed = urllib.request.Request(f"{base}/media/{name}?{signed_query(name)}", headers=https)
        with urllib.request.urlopen(signed, timeout=5) as served:
            assert (served.status, served.read()) == (200, content)
            assert served.headers["Content-Type"] == "image/png"
            assert served.headers["Cache-Control"].startswith("private, max-age=")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/media/{name}", headers=https), timeout=5
            )
        assert refused.value.code == 403
        assert content not in refused.value.read()
