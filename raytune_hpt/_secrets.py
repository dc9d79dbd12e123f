"""Secrets never travel or print: the one place that says what a secret is and hides it.

Every printer and saver of a configuration goes through here (``run --dry-run``, the
experiment copy saved beside the results, ``submit``'s check before an upload).

The rule, by **key name** (``data.kwargs.api_token``, ``data.s3.secret_key``,
``searcher.storage_password``): a key is a secret when one of its words (split at ``_``,
``-``, ``.``, spaces and camelCase: ``apiToken`` is ``api token``) is one of
:data:`SECRET_WORDS` (``password``, ``token``, ``secret``, ``credential``...), or is ``key``
right after one of :data:`KEY_QUALIFIERS` (``api_key``, ``access_key``, ``private_key``), or
the whole name is one of :data:`SECRET_NAMES` (``sig``, ``pwd``). Whole words only:
``keep_models``, ``keys``, ``tokenizer``, ``max_tokens``, ``monkey`` and ``key_column`` are
ordinary keys. A tokenizer's special tokens (``oov_token``, ``pad_token``...) are not
secrets. A value that is ``None``, empty or a boolean (``use_auth_token: true``) is left as
it is: it holds nothing to hide.

And in **any string value**, a URI's credentials: the password of ``scheme://user:password@``
(the whole user part is hidden: for ``s3://KEY:SECRET@bucket`` the user is a key too) and
each query parameter whose name is a secret by the rule above (``?secret_key=...``,
``&X-Amz-Signature=...``, ``&sig=...``).

Hidden values become :data:`REDACTED`; :func:`restore_redacted` takes a saved copy back to
what ``resume`` can run (a redacted key removed, so the environment's credentials apply).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = [
    "KEY_QUALIFIERS",
    "REDACTED",
    "SECRET_NAMES",
    "SECRET_WORDS",
    "is_secret_key",
    "redact",
    "redact_uri",
    "restore_redacted",
    "secrets_in",
    "uri_has_credentials",
]

logger = logging.getLogger(__name__)

REDACTED = "<redacted>"

SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "secret", "secrets", "token", "credential",
    "credentials", "auth", "authorization", "apikey", "cookie", "signature", "dsn",
})
#: ``<qualifier>_key`` is a secret (``api_key``, ``access_key``); ``key`` alone is not.
KEY_QUALIFIERS = frozenset({
    "api", "access", "private", "secret", "auth", "account", "client", "encryption",
    "signing", "ssh", "sas", "master", "storage", "subscription", "license",
})
SECRET_NAMES = frozenset({"sig", "pwd", "pass"})
#: A tokenizer's special tokens: ordinary settings of text models, not credentials.
_TEXT_TOKENS = frozenset({"oov", "pad", "unk", "bos", "eos", "cls", "sep", "mask", "start",
                          "end", "special", "split", "padding", "unknown"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def is_secret_key(name: Any) -> bool:
    """Whether a setting named ``name`` holds a secret (the rule in this module's docstring)."""
    name = str(name)
    if name.lower() in SECRET_NAMES:
        return True
    words = _words(name)
    for i, word in enumerate(words):
        before = words[i - 1] if i else ""
        if word == "token" and before in _TEXT_TOKENS:
            continue
        if word in SECRET_WORDS or (word == "key" and before in KEY_QUALIFIERS):
            return True
    return False


def _holds_something(value: Any) -> bool:
    return value is not None and value != "" and value != REDACTED and not isinstance(value,
                                                                                        bool)


def uri_has_credentials(text: str) -> bool:
    """Whether ``text`` holds a URI with ``user:password@`` or a secret query parameter."""
    return any(redact_uri(uri) != uri for uri in _URI.findall(text))


def redact_uri(text: str) -> str:
    """``text`` with every URI's credentials replaced by :data:`REDACTED` (see the module)."""
    return _URI.sub(lambda match: _redact_one_uri(match.group(0)), text)


def _redact_one_uri(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and ":" in user and user != REDACTED:
        netloc = f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) and v not in ("", REDACTED) for k, v in pairs):
            query = "&".join(f"{k}={REDACTED if is_secret_key(k) and v else v}"
                             for k, v in pairs)
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value: Any) -> Any:
    """A copy of ``value`` (mappings, lists, strings) with every secret hidden."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(k) and _holds_something(v) else redact(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return redact_uri(value)
    return value


def secrets_in(value: Any, path: str = "") -> Iterator[str]:
    """The dotted names of the settings in ``value`` that hold a secret: a secret key
    (``data.kwargs.api_token``) or a string with URI credentials (``tracking.mlflow``)."""
    if isinstance(value, dict):
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if is_secret_key(key) and _holds_something(child):
                yield where
            else:
                yield from secrets_in(child, where)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from secrets_in(child, f"{path}[{index}]")
    elif isinstance(value, str) and uri_has_credentials(value):
        yield path or "value"


def restore_redacted(value: Any, path: str = "") -> Any:
    """A saved copy made runnable again: each redacted key removed and each URI's redacted
    credentials dropped, so that the environment's credentials apply (logged once each)."""
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if child == REDACTED:
                logger.info("%s was redacted in the saved experiment; the environment's "
                            "credentials apply.", where)
                continue
            kept[key] = restore_redacted(child, where)
        return kept
    if isinstance(value, list):
        return [restore_redacted(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and REDACTED in value:
        logger.info("%s held credentials, redacted in the saved experiment; the environment's "
                    "credentials apply.", path or "value")
        return _URI.sub(lambda match: _without_redacted_parts(match.group(0)), value)
    return value


def _without_redacted_parts(uri: str) -> str:
    parts = urlsplit(uri)
    netloc = parts.netloc.removeprefix(f"{REDACTED}@")
    query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query, keep_blank_values=True)
                     if v != REDACTED)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
