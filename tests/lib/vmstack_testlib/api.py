"""The product's HTTP API as a client inside the instance sees it: curl through nginx."""

from __future__ import annotations

import json


def quote(part: str) -> str:
    """One shell word, single-quoted."""
    return "'" + part.replace("'", "'\"'\"'") + "'"


# in the throwaway instance under test, where /tmp is ours
BODY = "/tmp/vmstack-body"  # noqa: S108


class Api:
    """curl inside a testinfra host, against ``base`` (e.g. https://127.0.0.1)."""

    def __init__(self, host, base: str):
        self.host = host
        self.base = base

    def call(self, method: str, path: str, body=None, token: str | None = None, headers=()):
        """(HTTP status, JSON body or raw text or None)."""
        cmd = ["curl", "-sk", "-o", BODY, "-w", "%{http_code}", "-X", method]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        for header in headers:
            cmd += ["-H", header]
        cmd.append(self.base + path)
        result = self.host.run(" ".join(quote(part) for part in cmd))
        assert result.rc == 0, result.stderr
        status = int(result.stdout.strip())
        raw = self.host.file(BODY).content_string
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return status, payload

    def login(self, email: str, password: str) -> str:
        status, body = self.call(
            "POST", "/api/v1/auth/login", {"email": email, "password": password}
        )
        assert status == 200, body
        return body["access_token"]
