"""Helpers for adapter tests: recorded fixtures and a fake platform behind httpx.MockTransport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """A recorded sample without its ``_comment`` annotation."""
    data = json.loads(fixture_bytes(name))
    if isinstance(data, dict):
        data.pop("_comment", None)
    return data


class FakePlatform:
    """Answers requests with queued responses, in order, and records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._responses: list[httpx.Response | Exception] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))

    def reply(
        self,
        status: int = 200,
        json_body: Any = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> FakePlatform:
        if json_body is not None:
            response = httpx.Response(status, json=json_body, headers=headers)
        else:
            response = httpx.Response(status, content=content or b"", headers=headers)
        self._responses.append(response)
        return self

    def fail(self, exc: Exception) -> FakePlatform:
        self._responses.append(exc)
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self._responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    @property
    def pending(self) -> int:
        return len(self._responses)


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()
