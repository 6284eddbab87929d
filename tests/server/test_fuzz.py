"""The API fuzzed with schemathesis against its own OpenAPI document: no input makes it answer 5xx, every error
is a problem document, and answers match the documented schemas."""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from starlette.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app

_app = create_app(Settings(auth=False, data_dir=tempfile.mkdtemp(prefix="wk-fuzz-"), max_body_bytes=256 * 1024))
_client = TestClient(_app)
_client.__enter__()  # start the store for the whole module; closed at interpreter exit


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx: object, value: object) -> bytes:
    """The schema says 'binary': send what was generated (bytes, or a string's UTF-8) — mostly invalid protobuf."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.include(path_regex="^/(api/v1|v1)/").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case: Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path} answered {response.status_code}"
    if response.status_code >= 400:
        ctype = response.headers.get("content-type", "")
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), f"{case.method} {case.path}: {ctype}"
