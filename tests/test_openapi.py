"""The OpenAPI schema (drf-spectacular) and the API checked against it.

schemathesis generates requests for every operation of the demo's own
schema, each with a fresh valid token, and checks that nothing answers 500
and that every status code, content type and body is the one declared.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import request_finished
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from redistoken import store

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db

OUR_PATHS = {
    "/auth/login/": "post",
    "/auth/logout/": "post",
    "/auth/logout-all/": "post",
    "/auth/logout-others/": "post",
    "/auth/revoke/": "post",
    "/auth/sessions/": "get",
    "/auth/sessions/{session_id}/": "delete",
}


def get_schema(**extra):
    response = APIClient(**extra).get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_without_warnings(tmp_path):
    # --fail-on-warn: any view spectacular cannot describe fails the test.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "redistokenAuth" in (tmp_path / "schema.yaml").read_text()


def test_every_endpoint_is_described():
    schema = get_schema()
    for path, method in OUR_PATHS.items():
        operation = schema["paths"][path][method]
        public = path in ("/auth/login/", "/auth/revoke/")
        assert operation["security"] == ([{}] if public else [{"redistokenAuth": []}]), path
        codes = set(operation["responses"])
        assert "503" in codes, path
        assert ("401" in codes) is not public, path
    login = schema["paths"]["/auth/login/"]["post"]
    token_response = login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = schema["components"]["schemas"][token_response]["properties"]
    assert {"access_token", "token_type", "expires_in"} <= set(fields)
    session = schema["components"]["schemas"]["Session"]["properties"]
    assert "Chrome 131 on macOS" in session["device_label"]["description"]
    assert schema["components"]["securitySchemes"]["redistokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_bearer_keyword_is_an_http_bearer_scheme(settings):
    settings.REDISTOKEN = {"AUTH_HEADER_KEYWORDS": ["Bearer"], "EMBEDDED_STORE": True}
    scheme = get_schema()["components"]["securitySchemes"]["redistokenAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "redistoken"}


def test_docs_pages_use_local_assets():
    for path in ("/api/docs/", "/api/redoc/"):
        response = APIClient().get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn." not in page and "unpkg" not in page and "fonts.g" not in page
        assert "https://" not in page  # nothing from a third party


def test_the_app_works_without_drf_spectacular():
    """Installed without the ``openapi`` extra, nothing imports drf_spectacular."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "app_smoke.py"), "--without-openapi"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.splitlines()[-1])
    assert facts["file"] == str(ROOT / "redistoken" / "__init__.py")
    assert facts["schema_loaded"] is False


@pytest.fixture
def wsgi_requests_keep_the_test_database(backend):
    """Called directly (not through Django's test client), the WSGI handler
    would close the test database connection after each request."""
    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


# Loaded at collection: generating the schema needs neither database nor Redis.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("wsgi_requests_keep_the_test_database")
def test_api_conforms_to_its_schema(case):
    user, _ = get_user_model().objects.get_or_create(username="schemathesis")
    token = store.issue_token(user, device="schemathesis").token
    case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ]
    )



class APIWorkflow(schema.as_state_machine()):
    """Stateful phase: sequences of calls that follow the links schemathesis
    infers from the schema (a listing's or a login's session id to its
    deletion), each authenticated with a fresh valid token."""

    answered: list[tuple[str, int]] = []

    def before_call(self, case):
        user = get_user_model().objects.filter(username="schemathesis").first()
        user = user or get_user_model().objects.create_superuser("schemathesis")  # the staff API too
        # A device name of its own: a login from the same device replaces its session.
        token = store.issue_token(user, device=f"schemathesis {len(self.answered)}").token
        case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}

    def after_call(self, response, case):
        self.answered.append((case.operation.label, response.status_code))

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
            ],
        )


@pytest.mark.usefixtures("wsgi_requests_keep_the_test_database")
def test_stateful_sequences_conform_to_the_schema():
    APIWorkflow.answered.clear()
    APIWorkflow.run(
        settings=settings(
            max_examples=20, stateful_step_count=6, deadline=None, suppress_health_check=list(HealthCheck)
        )
    )
    answered = set(APIWorkflow.answered)
    assert ("DELETE /auth/sessions/{session_id}/", 204) in answered  # a listed session, ended through the link
    assert {label for label, _ in answered} >= {"POST /auth/login/", "GET /auth/sessions/"}
