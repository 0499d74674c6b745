"""Calling the JSON admin API (under /api/) of a test client; the ``api`` fixture
(tests/integration/conftest.py) is such a client with ``ADMIN_TOKEN`` set."""

from __future__ import annotations

ADMIN_TOKEN = "0123456789abcdef-admin"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def call(api, method: str, path: str, body=None, headers: dict = AUTH, expect: int = 200):
    """One request; fails unless it gets ``expect`` with a JSON body, which it returns."""
    response = api.open(path, method=method, json=body, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return response.get_json()
