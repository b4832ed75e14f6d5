"""Property-based fuzzing of every documented operation from /openapi.json: no input may cause a 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.conftest import SMALL_SCAN, Server, upload


def test_no_operation_answers_500(server: Server) -> None:
    with server.client("fuzz") as client:
        upload(client, SMALL_SCAN)  # so that some generated scopes name real data
    # the SSE stream never ends by design; test_api_flow covers it
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json").exclude(path="/api/v1/events/stream")
    headers = server.headers("fuzz", scopes=("export:admin",))
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case: Any) -> None:
            nonlocal tried
            tried += 1
            response = case.call(base_url=server.url, headers={**headers, **(case.headers or {})}, timeout=10)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")
            content_type = response.headers.get("content-type") or [""]
            if isinstance(content_type, list):  # schemathesis keeps every value of a header
                content_type = content_type[0]
            if 400 <= response.status_code < 500 and content_type != "application/problem+json":
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} is not problem+json")

        exercise()
    assert tried >= 50
    assert failures == [], "\n".join(sorted(set(failures))[:20])
