"""The cluster token stays secret (issue 23, finding 3): never over plain http:// to another
machine without --insecure (and then with a warning), never in the first request.

A small HTTP server on this machine answers like a Ray dashboard with token authentication
(``/api/version``: 401 without a token, Ray's version with the right one) and records the
Authorization header of every request. It listens on every interface, so the same server
is "this machine" at 127.0.0.1 and "another host" at the machine's network address.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading

import pytest

from raytune_hpt.cli import main

TOKEN = "s3cret-token-for-tests"


class _Dashboard(http.server.BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        header = self.headers.get("Authorization")
        type(self).seen.append(header)
        if header != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"ray_version": "2.60.0", "version": "4"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _network_address() -> str | None:
    for target in ("10.255.255.255", "192.0.2.1", "8.8.8.8"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((target, 9))  # no packet is sent for a UDP connect
            except OSError:
                continue
            address = sock.getsockname()[0]
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
    return None


@pytest.fixture
def dashboard(monkeypatch, tmp_path):
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN_PATH",
                 "RAY_AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAY_AUTH_TOKEN", TOKEN)
    _Dashboard.seen = []
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), _Dashboard)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_first_request_carries_no_token(dashboard, capsys):
    from raytune_hpt.cli._jobs_client import connect

    with contextlib.suppress(Exception):  # whatever the Jobs SDK makes of this stand-in
        connect(f"http://127.0.0.1:{dashboard}")
    assert _Dashboard.seen[0] is None
    assert f"Bearer {TOKEN}" in _Dashboard.seen[1:]


def test_no_token_over_plain_http_to_another_host(dashboard, capsys):
    host = _network_address()
    if host is None:
        pytest.skip("this machine has no network address besides loopback")
    code = main(["jobs", "list", "--address", f"http://{host}:{dashboard}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--insecure" in err and "unencrypted" in err
    assert all(header is None for header in _Dashboard.seen), _Dashboard.seen


def test_insecure_sends_it_with_a_warning(dashboard, capsys):
    from raytune_hpt.cli._jobs_client import connect, plain_http_allowed

    host = _network_address()
    if host is None:
        pytest.skip("this machine has no network address besides loopback")
    with plain_http_allowed(), contextlib.suppress(Exception):  # the SDK's own checks
        connect(f"http://{host}:{dashboard}")
    assert "Warning: sending the cluster token over plain http://" in capsys.readouterr().err
    assert f"Bearer {TOKEN}" in _Dashboard.seen


def test_an_address_without_a_scheme_is_still_refused(dashboard, capsys):
    host = _network_address()
    if host is None:
        pytest.skip("this machine has no network address besides loopback")
    code = main(["jobs", "list", "--address", f"{host}:{dashboard}"])
    assert code == 2 and "--insecure" in capsys.readouterr().err
    assert f"Bearer {TOKEN}" not in _Dashboard.seen
