"""Rate limits answer 429 once a client goes over its rate."""


def test_authenticated_users_are_throttled_per_user(api, reader_api, settings):
    settings.VIDPIPE_THROTTLE_RATES = {"anon": None, "user": "3/minute"}

    statuses = [api.get("/api/manifests").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/manifests")
    assert int(limited["Retry-After"]) > 0
    assert "throttled" in limited.json()["detail"].lower()
    assert reader_api.get("/api/manifests").status_code == 200  # another user, own budget


def test_anonymous_clients_are_throttled_where_they_are_let_in(anon_api, settings, db):
    # Anonymous clients reach only the schema and docs; elsewhere they get 401 first.
    settings.VIDPIPE_THROTTLE_RATES = {"anon": "2/minute", "user": None}

    statuses = [anon_api.get("/api/schema").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_an_empty_rate_switches_the_limit_off(api, settings):
    settings.VIDPIPE_THROTTLE_RATES = {"anon": None, "user": None}
    assert {api.get("/api/projects").status_code for _ in range(30)} == {200}
