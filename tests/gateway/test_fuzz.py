"""Property-based fuzzing of the public API from the gateway's own OpenAPI document."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import ignored_auth  # noqa: E402

from distillguard.gateway.server import make_app  # noqa: E402

from .helpers import fake_gateway  # noqa: E402

_TMP = Path(tempfile.mkdtemp(prefix="dg-fuzz-"))
_FX = fake_gateway(_TMP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _FX.gateway.spool.close()
    shutil.rmtree(_TMP, ignore_errors=True)


_KEY = _FX.keys.create("fuzz-acct", org_id="fuzz-org", actor="t").raw_key
_APP = make_app(_FX.gateway)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    response = case.call(headers={"authorization": f"Bearer {_KEY}"})
    assert response.status_code < 500 or response.status_code in (502, 504), response.text
    assert "x-request-id" in response.headers
    if response.status_code >= 400:
        assert "error" in response.json()
    # we always send a valid key, so the "ignored auth" probe does not apply here;
    # tests/gateway/test_app.py covers missing, invalid and revoked keys
    case.validate_response(response, excluded_checks=[ignored_auth])
