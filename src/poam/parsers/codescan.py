"""Small helpers shared by the code and dependency scanner parsers (SARIF, Semgrep, Bandit, npm
audit, pip-audit): JSON peeking for detection, repository assets, file paths, evidence lists."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import ijson

from poam.domain.models import Asset, AssetKind, Severity
from poam.parsers.base import ParseContext
from poam.parsers.common import arr, obj, text

__all__ = [
    "MAX_HITS",
    "WITHHELD",
    "arr",
    "hits_text",
    "is_secret_rule",
    "max_severity",
    "obj",
    "peek",
    "repo_path",
    "repository",
    "text",
]  # arr, obj, text come from common

_RANK = {s: i for i, s in enumerate(Severity)}
MAX_HITS = 20
"""Lines listed in one finding's evidence; the rest are counted."""


def peek(data: bytes) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """Keys of each object and the first scalar at each ijson prefix (`runs.item.tool`) in the
    start of a JSON document, which may be cut short: for detection."""
    keys: dict[str, set[str]] = {}
    values: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data)):
            if event == "map_key":
                keys.setdefault(prefix, set()).add(value)
            elif event in ("string", "number", "boolean"):
                values.setdefault(prefix, value)
    except (ijson.common.JSONError, ijson.common.IncompleteJSONError, UnicodeDecodeError, ValueError):
        pass
    return keys, values


def repo_path(text: object, uri: bool = False) -> str | None:
    """A file path for a finding's location: forward slashes, no `./`, no doubled slashes, no
    `file://` scheme; percent-escapes decoded when `uri` (SARIF writes URIs)."""
    if not isinstance(text, str) or not text.strip():
        return None
    path = text.strip()
    if path.lower().startswith("file:"):
        parts = urlsplit(path)
        path = (f"//{parts.netloc}" if parts.netloc else "") + parts.path
        uri = True
        if re.match(r"^/[A-Za-z]:/", path):  # file:///C:/code -> C:/code
            path = path[1:]
    if uri:
        path = unquote(path)
    path = re.sub(r"/{2,}", "/", path.replace("\\", "/"))
    while path.startswith("./"):
        path = path[2:]
    path = path.replace("/./", "/")
    return path or None


def repository(name: object, ctx: ParseContext, fallback: str) -> Asset:
    """A REPOSITORY asset: the name the file gives (credentials and `.git` removed), else
    `--asset`, else the tool's documented fallback."""
    text = name.strip() if isinstance(name, str) else ""
    if "://" in text:
        parts = urlsplit(text)
        host = parts.netloc.rpartition("@")[2]
        text = urlunsplit((parts.scheme, host, parts.path, "", ""))
    text = text.rstrip("/").removesuffix(".git").rstrip("/")
    return Asset(kind=AssetKind.REPOSITORY, name=text or ctx.asset_name or fallback)


def max_severity(severities: list[Severity]) -> Severity:
    """The highest of these severities."""
    return max(severities, key=_RANK.__getitem__)


def hits_text(hits: list[str]) -> str | None:
    """Evidence listing the hits of one finding, the first `MAX_HITS` of them."""
    unique = list(dict.fromkeys(h for h in hits if h))
    if len(unique) > MAX_HITS:
        unique = [*unique[:MAX_HITS], f"... and {len(unique) - MAX_HITS} more"]
    return "\n".join(unique) or None


_SECRET_WORDS = ("secret", "leak", "trufflehog", "credential", "password", "token", "private key", "api key")


def is_secret_rule(*names: object) -> bool:
    """Whether a tool or rule (names, tags) detects secrets: such findings keep where the secret
    is, never the matched text, so that the POA&M database does not become a store of secrets."""
    for name in names:
        values = name if isinstance(name, list | tuple | set) else [name]
        for value in values:
            if isinstance(value, str) and any(w in value.lower() for w in _SECRET_WORDS):
                return True
    return False


WITHHELD = "secret detected; the matched value is not kept"
