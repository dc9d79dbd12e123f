"""The Ray Jobs API connection: the cluster's address, its token, a probe, one client.

The address is the dashboard's, ``http://HEAD:8265`` (``RAY_ADDRESS`` when not given); keep
that port private and reach it through an SSH tunnel or ``kubectl port-forward``. A cluster with
token authentication gets the token the way Ray reads it: ``RAY_AUTH_TOKEN``, else the file
``RAY_AUTH_TOKEN_PATH`` names, else ``~/.ray/auth_token`` (none with ``RAY_AUTH_MODE=disabled``).

The token is a password: it is sent only over ``https://`` or to this machine (a tunnel's
``127.0.0.1`` end). A plain ``http://`` address of another host needs ``--insecure``
(:func:`plain_http_allowed`) and prints a warning. The first request (the probe that checks
the address is Ray's) carries no token; it is added only when the cluster asks for one.

Nothing is submitted when the cluster cannot be reached; the errors say why in one line::

    ClusterError (RaytuneHptError)
    ├── ClusterAddressError (ConfigurationError)   no address, or not a Ray Jobs API there
    ├── ClusterAuthError (ConfigurationError)      no token, or the cluster refused it
    ├── JobNotFoundError (ConfigurationError)      no job with that id
    └── ClusterUnreachableError                    nothing answers at the address
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raytune_hpt.errors import (
    ClusterAddressError,
    ClusterAuthError,
    ClusterError,
    ClusterUnreachableError,
    JobNotFoundError,
)

__all__ = ["connect", "find_token", "plain_http_allowed", "resolve_address"]

_PLAIN_HTTP_ALLOWED = contextvars.ContextVar("plain_http_allowed", default=False)

DEFAULT_TOKEN_PATH = Path("~") / ".ray" / "auth_token"
_TIMEOUT_S = 10.0
_TUNNEL_HINT = (
    "is the cluster up, and for a remote one is the SSH tunnel or kubectl port-forward "
    "to its dashboard port open?"
)


def resolve_address(address: str | None = None) -> str:
    """The Jobs API's URL: ``address``, else ``RAY_ADDRESS``; ``http://`` is assumed.

    Raises:
        ClusterAddressError: no address, or one that is not the dashboard's HTTP address.
    """
    given = address or os.environ.get("RAY_ADDRESS", "")
    source = "--address" if address else "RAY_ADDRESS"
    given = given.strip().rstrip("/")
    if not given:
        raise ClusterAddressError(
            "no cluster address: give --address http://HEAD:8265 (the dashboard port, through "
            "an SSH tunnel or port-forward) or set RAY_ADDRESS"
        )
    scheme, sep, rest = given.partition("://")
    if not sep:
        scheme, rest = "http", given
    if given == "auto" or scheme not in ("http", "https") or not rest:
        kind = "a Ray Client address" if scheme == "ray" else "not an HTTP address"
        raise ClusterAddressError(
            f"{source} {given!r} is {kind}; jobs go to the dashboard's HTTP address, e.g. "
            f"http://127.0.0.1:8265 (`raytune-hpt run --address auto` runs on the head node itself)"
        )
    return f"{scheme}://{rest}"


def find_token() -> tuple[str | None, str]:
    """The token Ray would send, and where it came from.

    Ray's order: ``RAY_AUTH_TOKEN``, then the file ``RAY_AUTH_TOKEN_PATH`` names (which must
    be readable: Ray treats a bad path as fatal, not as "no token"), then ``~/.ray/auth_token``.
    ``RAY_AUTH_MODE=disabled`` sends none.

    Raises:
        ClusterAuthError: ``RAY_AUTH_TOKEN_PATH`` names a missing or empty file.
    """
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return None, "RAY_AUTH_MODE=disabled"
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token, "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        try:
            token = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ClusterAuthError(
                f"RAY_AUTH_TOKEN_PATH={path} cannot be read ({error.strerror})"
            ) from None
        if not token:
            raise ClusterAuthError(f"RAY_AUTH_TOKEN_PATH={path} is empty")
        return token, f"RAY_AUTH_TOKEN_PATH={path}"
    default = DEFAULT_TOKEN_PATH.expanduser()
    with contextlib.suppress(OSError):
        token = default.read_text(encoding="utf-8").strip()
        if token:
            return token, str(DEFAULT_TOKEN_PATH)
    return None, "no token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)"


@contextlib.contextmanager
def plain_http_allowed(allowed: bool = True) -> Iterator[None]:
    """Within this block a token may go over plain ``http://`` to another host (``--insecure``)."""
    reset = _PLAIN_HTTP_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _PLAIN_HTTP_ALLOWED.reset(reset)


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token_transport(url: str, source: str) -> None:
    """Refuse to send a token in clear text to another machine, unless ``--insecure``.

    Raises:
        ClusterAuthError: ``url`` is ``http://`` to a host that is not this machine.
    """
    if url.startswith("https://") or _is_loopback(url):
        return
    if not _PLAIN_HTTP_ALLOWED.get():
        raise ClusterAuthError(
            f"{url} is plain http:// to another machine: the token from {source} would cross "
            "the network unencrypted; reach the dashboard through an SSH tunnel or kubectl "
            "port-forward (http://127.0.0.1:8265), use https://, or pass --insecure to send "
            "it anyway"
        )
    print(f"Warning: sending the cluster token over plain http:// to {url} (--insecure); "
          "anyone on the network path can read it.", file=sys.stderr)


def _probe(url: str, headers: dict[str, str], source: str) -> None:
    """One GET of ``/api/version``, turned into one of the errors when it is not Ray's answer."""
    import requests

    try:
        response = requests.get(f"{url}/api/version", headers=headers, timeout=_TIMEOUT_S)
    except requests.exceptions.SSLError as error:
        raise ClusterAddressError(
            f"{url}: TLS failed ({_reason(error)}); is it http:// rather than https://?"
        ) from None
    except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout):
        raise ClusterUnreachableError(
            f"{url} did not answer within {_TIMEOUT_S:.0f} s; {_TUNNEL_HINT}"
        ) from None
    except requests.exceptions.ConnectionError as error:
        reason = _reason(error)
        if _refused_or_unresolved(reason):
            raise ClusterUnreachableError(
                f"cannot reach {url} ({reason}); {_TUNNEL_HINT}"
            ) from None
        raise ClusterAddressError(
            f"{url} answered but not as a Ray dashboard ({_kind(error)}); the Jobs API is on the "
            "dashboard "
            "port (8265 by default), not the GCS (6379) or Ray Client (10001) port"
        ) from None
    if response.status_code == 401:
        raise ClusterAuthError(
            f"{url} requires a token and {source} was found; set RAY_AUTH_TOKEN or "
            "RAY_AUTH_TOKEN_PATH "
            "to the cluster's token (`ray get-auth-token` on the head node prints it)"
        )
    if response.status_code == 403:
        raise ClusterAuthError(
            f"{url} refused the token from {source}; use the cluster's token "
            "(`ray get-auth-token` on "
            "the head node prints it)"
        )
    try:
        version = response.json()["ray_version"]
    except (ValueError, KeyError, TypeError):
        raise ClusterAddressError(
            f"{url} answered HTTP {response.status_code} but is not a Ray dashboard; "
            "the Jobs API is on "
            "the dashboard port (8265 by default)"
        ) from None
    if not isinstance(version, str):
        raise ClusterAddressError(f"{url} is not a Ray dashboard (no ray_version in /api/version)")


def _reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, on one line."""
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__
    text = " ".join(str(error).split())
    if "Errno" in text:
        text = text[text.index("[Errno") :] if "[Errno" in text else text
    return text[:200] or type(error).__name__


def _kind(error: BaseException) -> str:
    """The innermost error's class: what answered may have sent binary (a gRPC port)."""
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__
    return type(error).__name__


def _refused_or_unresolved(reason: str) -> bool:
    lowered = reason.lower()
    return any(
        word in lowered
        for word in (
            "refused",
            "name or service not known",
            "nodename nor servname",
            "no route to host",
            "network is unreachable",
            "failed to resolve",
            "temporary failure in name resolution",
            "timed out",
            "host is down",
        )
    )


@contextlib.contextmanager
def _address_env_ignored() -> Iterator[None]:
    """Ray's client prefers RAY_ADDRESS over its argument; here the argument must win."""
    saved = {
        k: os.environ.pop(k) for k in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS") if k in os.environ
    }
    try:
        yield
    finally:
        os.environ.update(saved)


def connect(address: str | None = None) -> Any:
    """A ``JobSubmissionClient`` for the cluster, after checking that it answers as Ray.

    Raises:
        ClusterAddressError, ClusterAuthError, ClusterUnreachableError: see the module's tree.
    """
    url = resolve_address(address)
    token, source = find_token()
    headers = _probe_then_headers(url, token, source)
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as error:  # the Jobs SDK needs ray[default] (requests, aiohttp)
        raise ImportError(
            f"Submitting jobs needs Ray's Jobs SDK: pip install 'ray[default]' ({error})"
        ) from None
    with _address_env_ignored():
        return _mapped(lambda: JobSubmissionClient(url, headers=headers), url, source)


def _probe_then_headers(url: str, token: str | None, source: str) -> dict[str, str]:
    """Probe without the token first; the token goes only to a cluster that wants it, over a
    transport :func:`check_token_transport` allows."""
    if token is None:
        _probe(url, {}, source)
        return {}
    try:
        _probe(url, {}, "no token (the first request carries none)")
        return {}  # Ray answered without one: the cluster has no token authentication
    except ClusterAuthError:
        pass  # 401/403 without a token: it wants one
    check_token_transport(url, source)
    headers = {"Authorization": f"Bearer {token}"}
    _probe(url, headers, source)
    return headers


#: How long a submit waits for a cluster that has no job agent ready yet (a head still
#: starting answers "No available agent to submit job, please try again later").
AGENT_WAIT_SECONDS = 90.0


def _mapped(call: Any, url: str, source: str, job_id: str | None = None) -> Any:
    """Run one Jobs API call, turning Ray's exceptions into this module's."""
    import requests
    from ray.exceptions import AuthenticationError

    try:
        return _until_an_agent_answers(call, url)
    except AuthenticationError:
        raise ClusterAuthError(f"{url} refused the token from {source}") from None
    except (requests.exceptions.ConnectionError, ConnectionError) as error:
        raise ClusterUnreachableError(
            f"lost the connection to {url} ({_reason(error)}); {_TUNNEL_HINT}"
        ) from None
    except RuntimeError as error:
        if job_id is not None and ("does not exist" in str(error) or "404" in str(error)):
            raise JobNotFoundError(
                f"no job {job_id!r} on {url}; `raytune-hpt jobs list` shows them"
            ) from None
        raise


def _until_an_agent_answers(call: Any, url: str) -> Any:
    """``call()``, tried again (bounded) while the cluster says no job agent is ready."""
    deadline = time.monotonic() + AGENT_WAIT_SECONDS
    while True:
        try:
            return call()
        except RuntimeError as error:
            if "No available agent" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{url} has had no job agent ready for {AGENT_WAIT_SECONDS:.0f} s (\"No "
                    "available agent to submit job\": a head node still starting, or its "
                    "dashboard agent down); check `ray status` on the head and submit again"
                ) from None
            time.sleep(2)
