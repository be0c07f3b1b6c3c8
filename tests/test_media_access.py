"""Who may read the stored files (issue 12): the URLs the API and the admin hand out are
signed and expire; the media view serves a file only for a valid signature of exactly its
path, to anyone holding it, and refuses everything else with 403 and no bytes.
(make serve's nginx path is in tests/test_serving.py.)"""

import hashlib
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from manifests import services
from manifests.media_urls import media_signature, signed_query, url_expiry, url_window
from tests.admin_forms import change_page
from tests.conftest import image_bytes, image_upload
from tests.processes import manage, production_env

REFUSED = b"This media URL is not signed for this file, or it has expired. Ask the API again."


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local(url: str) -> str:
    """An absolute URL as the test client asks for it: path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def query_of(url: str) -> dict[str, str]:
    return {key: value for key, (value,) in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def hero(make_manifest, make_asset):
    asset = make_asset(make_manifest("Heroes"), "Hero")
    return services.asset_attach_image(asset=asset, file=image_upload("hero.png", size=(40, 30)))


def test_a_bare_media_url_is_refused_with_403_and_no_bytes(anonymous, api, hero, media_root):
    bare = f"/media/{hero.reference_image.name}"
    assert (media_root / hero.reference_image.name).is_file()

    for client in (anonymous, api):  # signed in or not: the signature is the permission
        response = client.get(bare)
        assert response.status_code == 403
        assert response.content == REFUSED
        assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_the_signed_url_from_the_api_serves_the_exact_bytes_to_anyone(anonymous, api, hero):
    body = api.get(f"/api/assets/{hero.pk}").json()
    url = body["reference_image_url"]
    assert set(query_of(url)) == {"expires", "signature"}

    response = anonymous.get(local(url))

    assert response.status_code == 200
    assert sha256(body_of(response)) == body["image_sha256"] == hero.image_sha256
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    # Cached by the browser while the URL is valid, never by a shared cache.
    max_age = int(response["Cache-Control"].removeprefix("private, max-age="))
    assert 3600 <= max_age <= 3600 + url_window(3600)
    thumbnail = anonymous.get(local(body["thumbnail_url"]))
    assert (thumbnail.status_code, body_of(thumbnail)[:4]) == (200, b"RIFF")


def test_a_url_lives_its_lifetime_rounded_up_to_a_window_and_is_the_same_within_it(settings):
    settings.VIDPIPE_MEDIA_URL_SECONDS = 3600
    window = url_window(3600)
    start = 1_800_000_000  # a window boundary (a multiple of 900)

    expiries = [url_expiry(now) for now in range(start - 5, start + 2 * window, 7)]

    for now, expires in zip(range(start - 5, start + 2 * window, 7), expiries, strict=True):
        assert now + 3600 <= expires < now + 3600 + window
        assert expires % window == 0
    assert url_expiry(start + 1) == url_expiry(start + window) == start + 3600 + window
    assert sorted(set(expiries)) == [start + 3600 + n * window for n in range(3)]


def test_a_files_url_follows_the_signing_key_the_media_url_and_the_lifetime(hero, settings):
    # URLs are memoised per process (a pure function of these): a change of any of them
    # gives the URL a fresh computation gives, never a remembered one.
    name = hero.reference_image.name
    first = hero.reference_image.url
    assert hero.reference_image.url == first  # the same within a window

    settings.SECRET_KEY = "another-key-" + "x" * 50
    rotated, rotated_query = hero.reference_image.url, signed_query(name)
    settings.MEDIA_URL = "/files/"
    moved = hero.reference_image.url
    settings.VIDPIPE_MEDIA_URL_SECONDS = 60
    shorter, shorter_query = hero.reference_image.url, signed_query(name)

    assert query_of(rotated)["signature"] != query_of(first)["signature"]
    assert rotated == f"/media/{name}?{rotated_query}"
    assert moved == f"/files/{name}?{rotated_query}"
    assert int(query_of(shorter)["expires"]) < int(query_of(moved)["expires"])
    assert shorter == f"/files/{name}?{shorter_query}"


def test_an_expired_url_is_refused(anonymous, hero, settings):
    name = hero.reference_image.name
    just_expired = int(time.time()) - 1  # signed as it was an hour and a second ago
    expired = f"/media/{name}?{signed_query(name, expires=just_expired)}"
    valid = f"/media/{name}?{signed_query(name, expires=int(time.time()) + 60)}"

    assert (anonymous.get(expired).status_code, anonymous.get(expired).content) == (403, REFUSED)
    assert anonymous.get(valid).status_code == 200

    # A lifetime of one second: the URL handed out now is refused two seconds later.
    settings.VIDPIPE_MEDIA_URL_SECONDS = 1
    url = hero.reference_image.url
    expires = int(query_of(url)["expires"])
    assert expires - time.time() <= 1
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert anonymous.get(url).status_code == 403


def test_a_tampered_or_borrowed_signature_is_refused(anonymous, hero, make_asset):
    name = hero.reference_image.name
    other = services.asset_attach_image(
        asset=make_asset(hero.manifest, "Villain"), file=image_upload("villain.png")
    )
    expires = url_expiry()
    signature = media_signature(name, expires)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    attempts = [
        f"/media/{name}?expires={expires}&signature={flipped}",  # tampered
        f"/media/{name}?expires={expires + 3600}&signature={signature}",  # expiry extended
        f"/media/{name}?expires={expires}",  # no signature
        f"/media/{name}?signature={signature}",  # no expiry
        f"/media/{name}?expires=-{expires}&signature={signature}",
        # Another file's valid signature, on this file's path:
        f"/media/{name}?{urlsplit(other.reference_image.url).query}",
        f"/media/{hero.thumbnail.name}?expires={expires}&signature={signature}",
    ]
    for url in attempts:
        response = anonymous.get(url)
        assert (response.status_code, response.content) == (403, REFUSED), url


def test_path_traversal_is_refused_without_bytes(anonymous, hero, media_root, settings):
    secret = media_root.parent / "secret.txt"
    secret.write_bytes(b"not for you")
    expires = url_expiry()
    for path in ["../secret.txt", "%2e%2e/secret.txt", "manifests/../../secret.txt"]:
        unsigned = anonymous.get(f"/media/{path}?expires={expires}&signature=x")
        assert unsigned.status_code == 403, path
        assert b"not for you" not in unsigned.content
    # Even a signature for such a path (the storage never makes one) serves nothing.
    for path in ["../secret.txt", "manifests", f"manifests/{hero.manifest_id}/uploads"]:
        signed = anonymous.get(f"/media/{path}?{signed_query(path)}")
        assert signed.status_code == 404, path
        assert b"not for you" not in body_of(signed)


def test_public_media_gives_plain_urls_that_anyone_may_read(anonymous, api, hero, settings):
    settings.VIDPIPE_PUBLIC_MEDIA = True

    url = api.get(f"/api/assets/{hero.pk}").json()["reference_image_url"]

    assert url == f"http://testserver/media/{hero.reference_image.name}"
    response = anonymous.get(local(url))
    assert response.status_code == 200
    assert sha256(body_of(response)) == hero.image_sha256
    assert "private" not in response.get("Cache-Control", "")


def test_with_an_accel_location_the_view_checks_and_the_web_server_sends(anonymous, hero, settings):
    settings.VIDPIPE_MEDIA_ACCEL_REDIRECT = "/_protected_media/"
    name = hero.reference_image.name

    handed = anonymous.get(hero.reference_image.url)
    refused = anonymous.get(f"/media/{name}")

    assert (handed.status_code, handed.content) == (200, b"")
    assert handed["X-Accel-Redirect"] == f"/_protected_media/{name}"
    assert handed["Content-Type"] == "image/png"
    assert handed["Cache-Control"].startswith("private, max-age=")
    assert (refused.status_code, refused.content) == (403, REFUSED)
    assert "X-Accel-Redirect" not in refused
    gone = anonymous.get(f"/media/{name[:-4]}.gif?{signed_query(name[:-4] + '.gif')}")
    assert gone.status_code == 404 and "X-Accel-Redirect" not in gone


def test_admin_previews_are_signed_and_answer_200(curator, anonymous, hero, make_asset):
    make_asset(hero.manifest, "Sidekick")  # no image: a dash, no <img>

    page = change_page(curator, hero.manifest)

    sources = [img["src"] for img in page.html.select("img.vidpipe-preview")]
    assert sources and all("?expires=" in src for src in sources)
    assert hero.thumbnail.url in sources
    for src in sources:
        assert curator.get(src).status_int == 200  # as the curator's browser asks
        assert anonymous.get(src).status_code == 200
    shown = body_of(anonymous.get(hero.thumbnail.url))
    assert shown == hero.thumbnail.open("rb").read()


def test_frozen_version_pages_in_the_admin_preview_signed_files(curator, anonymous, hero):
    version = services.manifest_freeze(manifest=hero.manifest)

    page = curator.get(f"/admin/manifests/manifest/{hero.manifest_id}/versions/{version.number}/")

    sources = [img["src"] for img in page.html.select("img.vidpipe-preview")]
    assert sources and all("?expires=" in src for src in sources)
    assert all(anonymous.get(src).status_code == 200 for src in sources)


@pytest.mark.parametrize("route", ["manifest", "asset"])
def test_answers_listing_files_are_the_same_body_and_304_within_a_url_window(api, hero, route):
    url = f"/api/manifests/{hero.manifest_id}" if route == "manifest" else f"/api/assets/{hero.pk}"

    first = api.get(url)
    second = api.get(url)
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert "?expires=" in first.content.decode()
    assert first.content == second.content  # the URLs are the same within a window
    assert first["ETag"] == second["ETag"]
    assert (again.status_code, again.content) == (304, b"")


def test_a_frozen_version_with_expiring_urls_is_cached_only_while_they_last(api, hero):
    version = services.manifest_freeze(manifest=hero.manifest)
    url = f"/api/manifests/{hero.manifest_id}/versions/{version.number}"

    response = api.get(url)

    image_url = response.json()["assets"][0]["reference_image_url"]
    expires = int(query_of(image_url)["expires"])
    assert response["ETag"] == f'"{version.content_sha256}.{expires}"'
    assert "immutable" not in response["Cache-Control"]
    max_age = int(re.fullmatch(r"private, max-age=([0-9]+)", response["Cache-Control"])[1])
    # Reused until half the URLs' lifetime is left, at most: then fetched again.
    assert 1800 - 2 <= max_age <= expires - time.time() - 1800 + 1
    assert api.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    # A copy from an earlier window holds URLs that expire sooner: the full answer.
    earlier = f'"{version.content_sha256}.{expires - url_window(3600)}"'
    assert api.get(url, HTTP_IF_NONE_MATCH=earlier).status_code == 200


def test_media_settings_are_checked_at_start(tmp_path):
    for variable, value, said in [
        ("VIDPIPE_MEDIA_URL_SECONDS", "0", "VIDPIPE_MEDIA_URL_SECONDS must be at least 1."),
        ("VIDPIPE_MEDIA_ACCEL_REDIRECT", "_media", "must be a location path that starts"),
        ("VIDPIPE_PUBLIC_MEDIA", "ture", "VIDPIPE_PUBLIC_MEDIA='ture' is not a yes/no value"),
    ]:
        result = manage(production_env(tmp_path, **{variable: value}), "check", check=False)
        assert result.returncode != 0 and said in result.stderr, variable
    # The variable of old, which went with a web server serving MEDIA_ROOT to anyone.
    result = manage(production_env(tmp_path, VIDPIPE_SERVE_MEDIA="0"), "check")
    assert "manifests.W001" in result.stderr and "no longer read" in result.stderr


def test_a_generation_service_fetches_a_reference_by_its_url_until_it_expires(
    anonymous, api, make_manifest, make_asset
):
    # A stage that is handed a manifest fetches each reference image without credentials.
    manifest = make_manifest("Cast")
    asset = make_asset(manifest, "Lead")
    content = image_bytes("JPEG", size=(64, 48))
    api.post(
        f"/api/assets/{asset.pk}/upload",
        {"file": image_upload("lead.jpg", fmt="JPEG", size=(64, 48))},
        format="multipart",
    )
    (listed,) = api.get(f"/api/manifests/{manifest.pk}").json()["assets"]

    fetched = anonymous.get(local(listed["reference_image_url"]))

    assert fetched.status_code == 200
    assert body_of(fetched) == content
