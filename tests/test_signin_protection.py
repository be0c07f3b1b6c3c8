"""Password guessing: failed sign-ins are counted per username and per client address
(django-axes, in the database), and past the limit sign-in is refused for a cool-off period,
on the admin's and the browsable API's login pages alike. API tokens are never affected."""

import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import AsyncClient
from django_webtest import DjangoTestApp

from tests.admin_forms import PASSWORD
from tests.conftest import token_client
from tests.processes import manage, production_env

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.5"
OTHER_ADDRESS = "198.51.100.7"
LIMIT = 5  # VIDPIPE_LOGIN_FAILURE_LIMIT's default
ADMIN_LOGIN = "/admin/login/?next=/admin/"
API_LOGIN = "/api-auth/login/?next=/api/"


@pytest.fixture
def curator_account(db):
    return get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)


def browser(address: str = ADDRESS) -> DjangoTestApp:
    return DjangoTestApp(extra_environ={"REMOTE_ADDR": address})


def attempt_sign_in(app: DjangoTestApp, username: str, password: str, page: str = ADMIN_LOGIN):
    """Fills in and submits the login page as rendered; answers whatever comes back."""
    form = app.get(page).forms[0 if page == API_LOGIN else "login-form"]
    form["username"] = username
    form["password"] = password
    return form.submit(status="*")


def fail_sign_ins(app: DjangoTestApp, username: str, times: int, page: str = ADMIN_LOGIN):
    return [attempt_sign_in(app, username, "a wrong guess", page) for _ in range(times)]


def signed_in(app: DjangoTestApp) -> bool:
    return app.get("/admin/", status="*").status_code == 200


def is_lockout(response, minutes: int = 15) -> bool:
    return (
        response.status_code == 429
        and "Too many failed sign-ins (5)" in response.text
        and f"refused for the next {minutes} minutes, even with" in response.text
    )


def test_failures_up_to_the_limit_lock_the_account_even_with_the_right_password(
    curator_account,
):
    guesser = browser()

    answers = fail_sign_ins(guesser, "curator", LIMIT)

    assert [a.status_code for a in answers[:-1]] == [200] * (LIMIT - 1)
    assert "Please enter the correct username and password" in answers[0].text
    assert is_lockout(answers[-1])
    # The owner, elsewhere, with the right password: refused, and told why and how long.
    owner = browser(OTHER_ADDRESS)
    refused = attempt_sign_in(owner, "curator", PASSWORD)
    assert is_lockout(refused)
    assert 14 * 60 < int(refused["Retry-After"]) <= 15 * 60
    assert not signed_in(owner)


def test_the_page_gives_the_time_left_and_refusals_do_not_extend_it(curator_account):
    fail_sign_ins(browser(), "curator", LIMIT)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=10)
    )

    refused = attempt_sign_in(browser(OTHER_ADDRESS), "curator", PASSWORD)
    again = attempt_sign_in(browser(OTHER_ADDRESS), "curator", "a wrong guess")

    assert is_lockout(refused, minutes=5) and is_lockout(again, minutes=5)
    assert 4 * 60 < int(again["Retry-After"]) <= 5 * 60
    assert AccessAttempt.objects.get().failures_since_start == LIMIT


def test_the_lockout_ends_after_the_cool_off(curator_account):
    fail_sign_ins(browser(), "curator", LIMIT)
    # As if the last failure were 15 minutes and a second old.
    past = AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    AccessAttempt.objects.update(attempt_time=past)

    owner = browser(ADDRESS)
    assert attempt_sign_in(owner, "curator", PASSWORD).status_code == 302
    assert signed_in(owner)


def test_another_user_from_another_address_is_unaffected(curator_account):
    get_user_model().objects.create_user("editor", password=PASSWORD, is_staff=True)
    fail_sign_ins(browser(), "curator", LIMIT)

    editor = browser(OTHER_ADDRESS)
    assert attempt_sign_in(editor, "editor", PASSWORD).status_code == 302
    assert signed_in(editor)
    # The guesser's address is locked out whichever account it tries.
    assert is_lockout(attempt_sign_in(browser(ADDRESS), "editor", PASSWORD))


def test_guesses_spread_over_usernames_lock_the_address(curator_account):
    guesser = browser()
    for number in range(LIMIT):
        answer = attempt_sign_in(guesser, f"user{number}", "a wrong guess")

    assert is_lockout(answer)
    assert is_lockout(attempt_sign_in(guesser, "curator", PASSWORD))
    assert attempt_sign_in(browser(OTHER_ADDRESS), "curator", PASSWORD).status_code == 302


def test_the_browsable_api_login_is_protected_too(curator_account):
    guesser = browser()

    answers = fail_sign_ins(guesser, "curator", LIMIT, page=API_LOGIN)

    assert answers[0].status_code == 200 and is_lockout(answers[-1])
    refused = attempt_sign_in(browser(OTHER_ADDRESS), "curator", PASSWORD, page=API_LOGIN)
    assert is_lockout(refused)


def test_api_token_clients_are_unaffected_by_a_lockout(curator_account):
    # Lock out the account and the address the API client comes from (APIClient: 127.0.0.1).
    fail_sign_ins(browser("127.0.0.1"), "curator", LIMIT)
    assert is_lockout(attempt_sign_in(browser("127.0.0.1"), "curator", PASSWORD))
    api = token_client(curator_account)

    assert api.get("/api/manifests").status_code == 200
    assert api.post("/api/manifests", {"name": "Still works"}).status_code == 201


def test_bad_api_tokens_are_not_counted_as_sign_in_failures(curator_account, anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    for _ in range(LIMIT + 1):
        assert anon_api.get("/api/manifests").status_code == 401

    assert not AccessAttempt.objects.exists()
    assert attempt_sign_in(browser("127.0.0.1"), "curator", PASSWORD).status_code == 302


def test_attempts_and_lockouts_are_shown_to_staff_and_logged(curator, caplog):
    with caplog.at_level(logging.WARNING, logger="axes"):
        fail_sign_ins(browser(), "someone", LIMIT)

    lockouts = [r.getMessage() for r in caplog.records if "Locking out" in r.getMessage()]
    assert len(lockouts) == 1
    assert 'username: "someone"' in lockouts[0] and ADDRESS in lockouts[0]
    assert "a wrong guess" not in AccessAttempt.objects.get().post_data
    attempts = curator.get("/admin/axes/accessattempt/")
    assert "someone" in attempts.text and ADDRESS in attempts.text
    assert AccessFailureLog.objects.filter(username="someone").count() == LIMIT
    failures = curator.get("/admin/axes/accessfailurelog/")
    assert failures.text.count(ADDRESS) >= LIMIT


def test_an_admin_lifts_a_lockout_by_deleting_the_attempt(curator):
    fail_sign_ins(browser(), "someone", LIMIT)
    attempts = curator.get("/admin/axes/accessattempt/")
    form = attempts.forms["changelist-form"]
    form["action"] = "delete_selected"
    form["_selected_action"] = [str(AccessAttempt.objects.get().pk)]
    form.submit().forms[1].submit().follow()

    assert not AccessAttempt.objects.exists()
    assert attempt_sign_in(browser(), "curator", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "command", [["axes_reset"], ["axes_reset_username", "curator"], ["axes_reset_ip", ADDRESS]]
)
def test_axes_reset_commands_lift_a_lockout(curator_account, command):
    fail_sign_ins(browser(), "curator", LIMIT)

    call_command(*command, verbosity=0)

    assert attempt_sign_in(browser(), "curator", PASSWORD).status_code == 302


def test_behind_proxies_the_address_is_the_one_the_outermost_proxy_saw(curator_account, settings):
    settings.VIDPIPE_PROXY_COUNT = 1
    proxy = browser("127.0.0.1")
    for number in range(LIMIT):
        # The client writes anything left of what the proxy appends: it changes nothing.
        proxy.extra_environ["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{number}, {ADDRESS}"
        answer = attempt_sign_in(proxy, f"user{number}", "a wrong guess")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ADDRESS}
    assert is_lockout(answer)
    proxy.extra_environ["HTTP_X_FORWARDED_FOR"] = OTHER_ADDRESS
    assert attempt_sign_in(proxy, "curator", PASSWORD).status_code == 302


def test_without_a_proxy_x_forwarded_for_is_ignored(curator_account):
    guesser = browser()
    guesser.extra_environ["HTTP_X_FORWARDED_FOR"] = OTHER_ADDRESS

    fail_sign_ins(guesser, "someone", 1)

    assert AccessAttempt.objects.get().ip_address == ADDRESS


@pytest.mark.parametrize(
    "command",
    [
        ["axes_reset_username", "alice"],
        ["axes_reset_ip", "203.0.113.5"],
        ["axes_reset"],
    ],
)
def test_the_readme_reset_commands_as_written(tmp_path, command):
    env = production_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(
        env,
        "shell",
        "--command",
        "from axes.models import AccessAttempt; from django.utils import timezone; "
        "AccessAttempt.objects.create(username='alice', ip_address='203.0.113.5', "
        "user_agent='', failures_since_start=5, attempt_time=timezone.now())",
    )

    listed = manage(env, "axes_list_attempts").stdout
    reset = manage(env, *command).stdout

    assert "alice" in listed and "203.0.113.5" in listed
    assert reset.strip() == "1 attempts removed."
    assert "alice" not in manage(env, "axes_list_attempts").stdout


def test_limit_cool_off_and_proxies_come_from_the_environment(tmp_path):
    show = (
        "from django.conf import settings as s; print(s.AXES_ENABLED, s.AXES_FAILURE_LIMIT, "
        "s.AXES_COOLOFF_TIME.total_seconds(), s.VIDPIPE_PROXY_COUNT)"
    )

    def configured(**env: str) -> str:
        result = manage(production_env(tmp_path, **env), "shell", "--command", show)
        return result.stdout.splitlines()[-1]

    assert configured() == "True 5 900.0 0"
    assert configured(DJANGO_SECURE_PROXY_SSL_HEADER="1") == "True 5 900.0 1"
    assert (
        configured(
            VIDPIPE_LOGIN_PROTECTION="0",
            VIDPIPE_LOGIN_FAILURE_LIMIT="3",
            VIDPIPE_LOGIN_COOLOFF_MINUTES="2",
            VIDPIPE_PROXY_COUNT="2",
        )
        == "False 3 120.0 2"
    )
    refused = manage(
        production_env(tmp_path, VIDPIPE_LOGIN_FAILURE_LIMIT="0"), "check", check=False
    )
    assert refused.returncode != 0
    assert "VIDPIPE_LOGIN_FAILURE_LIMIT and VIDPIPE_LOGIN_COOLOFF_MINUTES must be" in (
        refused.stderr
    )


def test_a_smaller_limit_locks_out_sooner(curator_account, settings):
    settings.AXES_FAILURE_LIMIT = 2

    answers = fail_sign_ins(browser(), "curator", 2)

    assert answers[0].status_code == 200
    assert answers[1].status_code == 429 and "Too many failed sign-ins (2)" in answers[1].text


def test_with_protection_off_failures_are_not_counted(curator_account, settings):
    settings.AXES_ENABLED = False

    fail_sign_ins(browser(), "curator", LIMIT + 1)

    assert not AccessAttempt.objects.exists()
    assert attempt_sign_in(browser(), "curator", PASSWORD).status_code == 302


def test_the_lockout_holds_under_asgi(curator_account):
    """The same protection when served through Django's ASGI handler (uvicorn workers)."""
    post = async_to_sync(AsyncClient(REMOTE_ADDR=ADDRESS).post)
    credentials = {"username": "curator", "password": "a wrong guess"}
    answers = [post(ADMIN_LOGIN, credentials) for _ in range(LIMIT)]

    refused = post(ADMIN_LOGIN, {"username": "curator", "password": PASSWORD})

    assert [a.status_code for a in answers] == [200] * (LIMIT - 1) + [429]
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 14 * 60
    assert "refused for the next 15 minutes, even with" in refused.text
