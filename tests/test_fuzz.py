"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation gets positive and negative generated data, sent through the WSGI app as a
staff user; the checks are schemathesis' defaults: no 5xx, status codes, content types and
bodies that conform to the schema. `VIDPIPE_FUZZ_EXAMPLES` bounds the examples per
operation (CI default 15; `make fuzz` runs a longer pass).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import ignored_auth, negative_data_rejection, positive_data_acceptance

from manifests import services
from vidpipe.wsgi import application

# Serial (make test runs it after the others, in one process): under pytest-xdist schemathesis
# collects the operations as one item instead of one test each.
pytestmark = pytest.mark.serial

EXAMPLES = int(os.environ.get("VIDPIPE_FUZZ_EXAMPLES", "15"))
# The property is "no 5xx, responses conform to the schema". These two checks instead
# require every lenient DRF convention to be an error (an empty filter means "no filter",
# a JSON number is a fine decimal, "" clears a relation), which we keep on purpose.
LENIENT_BY_DESIGN = [negative_data_rejection, positive_data_acceptance]

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)


@pytest.fixture
def fuzz_world(api, staff_user, settings, make_manifest, make_asset):
    """Real rows for the generated requests to hit, and no rate limits."""
    settings.VIDPIPE_THROTTLE_RATES = {"anon": None, "user": None}
    manifest = make_manifest("Fuzzed")
    make_asset(manifest)
    services.project_create(name="uses it", manifest=make_manifest("Referenced"))
    # Requests go straight to the WSGI app, whose request signals would close the test's
    # database connection (inside its transaction); Django's test client detaches them too.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield api._credentials["HTTP_AUTHORIZATION"]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, fuzz_world):
    case.call_and_validate(headers={"Authorization": fuzz_world}, excluded_checks=LENIENT_BY_DESIGN)


class StaffWorkflow(schema.as_state_machine()):
    """Chains operations through the schema's links: create, then act on what was created."""

    authorization = ""

    def setup(self):
        # Each run starts from the same rows: Hypothesis replays runs to shrink them, and a
        # replay that met another run's leftovers would take another path.
        self._isolation = transaction.atomic()
        self._isolation.__enter__()

    def teardown(self):
        transaction.set_rollback(True)
        self._isolation.__exit__(None, None, None)

    def get_call_kwargs(self, case):
        return {"headers": {"Authorization": self.authorization}}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(
            response,
            additional_checks=additional_checks,
            # Every call carries our staff token, so "invalid auth" probes can't be invalid;
            # rights are pinned by tests/test_rights.py instead.
            excluded_checks=[*LENIENT_BY_DESIGN, ignored_auth],
            transport_kwargs=kwargs,
        )


def test_stateful_workflows_conform_to_the_schema(fuzz_world):
    StaffWorkflow.authorization = fuzz_world
    StaffWorkflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
