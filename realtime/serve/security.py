"""Every security default of the page, in one place.

- Loopback unless told: any other address needs a password (`require_password`).
- The password comes from an environment variable or a PBKDF2 hash in the config; it is
  never logged nor rendered (only its source is named).
- A login gives an HttpOnly, SameSite=Strict session cookie (random token, server-side,
  expires); login failures are rate-limited per client and overall.
- CSRF: every browser gets a random token in an HttpOnly cookie, which pages embed; every
  request that is not GET/HEAD must send it back (form field or header), or gets 403.
- Without a password the page answers only to loopback host names (a DNS-rebinding site
  cannot read it through a visitor's browser).
- Files are served only from the events folder's ``snapshots/`` and ``clips/``, after
  resolving symlinks (`safe_file`); anything else is a 404.
- Every response carries a content-security policy (no inline script, same origin only)
  and does not let itself be framed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from core.errors import UserError

DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise
DEFAULT_PORT = 8080
SESSION_COOKIE = "lookout_session"
CSRF_COOKIE = "lookout_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 64 * 1024
LOGIN_FAILURES_PER_CLIENT = 5  # per LOGIN_WINDOW_S, then 429 until the window passes
LOGIN_FAILURES_OVERALL = 30    # all clients together (a spread-out guesser)
LOGIN_WINDOW_S = 60.0
MAX_SESSIONS = 256
PBKDF2_ITERATIONS = 240_000    # ~0.3 s on a Raspberry Pi 4, per login only
FILE_FOLDERS = ("snapshots", "clips")
PUBLIC_PATHS = ("/login", "/static/")  # reachable before logging in
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------- the password

def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (base64), for ``serve.password_hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join(["pbkdf2_sha256", str(iterations), _b64(salt), _b64(digest)])


def hash_problem(hashed: str) -> str | None:
    """What is wrong with a ``password_hash`` value (never echoes it), or None."""
    parts = hashed.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256" or not parts[1].isdigit():
        return "not a hash from `lookout serve --hash-password` (pbkdf2_sha256$...)"
    try:
        base64.b64decode(parts[2], validate=True)
        base64.b64decode(parts[3], validate=True)
    except ValueError:
        return "not a hash from `lookout serve --hash-password` (bad base64)"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, repr=False)
class Password:
    """The page's password, as a hash only; ``source`` names where it came from."""

    hashed: str
    source: str

    def __repr__(self) -> str:  # never the hash either
        return f"Password(from {self.source})"

    @classmethod
    def from_settings(cls, password_env: str, password_hash: str,
                      environ: Mapping[str, str]) -> Password | None:
        """The environment variable wins over the config's hash; None: no password."""
        plain = environ.get(password_env, "") if password_env else ""
        if plain:
            return cls(hash_password(plain, iterations=20_000), f"${password_env}")
        if password_hash:
            return cls(password_hash, "serve.password_hash")
        return None

    def check(self, attempt: str) -> bool:
        _, iterations, salt, digest = self.hashed.split("$")
        got = hashlib.pbkdf2_hmac("sha256", attempt.encode(), base64.b64decode(salt),
                                  int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))


def require_password(host: str, password: Password | None, password_env: str) -> None:
    """Refuse (one line) to listen beyond loopback without a password."""
    if password is None and not is_loopback(host):
        raise UserError(f"serve: listening on {host} needs a password: set ${password_env} "
                        "or serve.password_hash (lookout serve --hash-password), or bind "
                        "127.0.0.1")


# ---------------------------------------------------------------------- sessions, logins

@dataclass
class Sessions:
    """Server-side sessions: random tokens with an expiry (a restart logs everyone out)."""

    ttl_s: float
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._tokens) >= MAX_SESSIONS:  # drop the one closest to expiring
                self._tokens.pop(min(self._tokens, key=self._tokens.__getitem__))
            self._tokens[token] = time.monotonic() + self.ttl_s
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expires = self._tokens.get(token)
            if expires is not None and expires < time.monotonic():
                del self._tokens[token]
                return False
            return expires is not None

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._tokens.pop(token or "", None)


class LoginLimiter:
    """Counts failed logins in a sliding window, per client and overall."""

    def __init__(self, per_client: int = LOGIN_FAILURES_PER_CLIENT,
                 overall: int = LOGIN_FAILURES_OVERALL, window_s: float = LOGIN_WINDOW_S) -> None:
        self.per_client, self.overall, self.window_s = per_client, overall, window_s
        self._failures: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._failures and self._failures[0][0] < now - self.window_s:
            self._failures.popleft()

    def allowed(self, client: str) -> bool:
        with self._lock:
            self._trim(time.monotonic())
            mine = sum(1 for _, c in self._failures if c == client)
            return mine < self.per_client and len(self._failures) < self.overall

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.append((time.monotonic(), client))


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//evil``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# ---------------------------------------------------------------------- files

def safe_file(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a file inside ``root``'s snapshots/ or clips/ after
    resolving symlinks; None for anything else (absolute, ``..``, links out, other
    folders, missing)."""
    if not relative or relative.startswith(("/", "\\")) or "\\" in relative or "\0" in relative:
        return None
    parts = Path(relative).parts
    if ".." in parts or len(parts) < 2 or parts[0] not in FILE_FOLDERS:
        return None
    base = root.resolve()
    try:
        target = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base / parts[0]) or not target.is_file():
        return None
    return target


# ---------------------------------------------------------------------- the middleware

@dataclass
class Policy:
    """What the guard enforces: ``password`` None means no login (loopback only)."""

    password: Password | None
    sessions: Sessions
    limiter: LoginLimiter = field(default_factory=LoginLimiter)


class Guard:
    """ASGI middleware in front of every route: headers, CSRF, login, host names."""

    def __init__(self, app, policy: Policy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        cookies = _cookies(headers.get(b"cookie", b"").decode("latin-1"))
        csrf = cookies.get(CSRF_COOKIE, "")
        fresh = len(csrf) < 32
        if fresh:
            csrf = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = csrf
        secure = scope.get("scheme") == "https"
        extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
        if fresh:
            extra.append((b"set-cookie", cookie(CSRF_COOKIE, csrf, secure=secure).encode()))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        problem = None
        if self.policy.password is None and not is_loopback(_host_name(headers)):
            problem = (421, "this page answers to localhost only (no password is set)")
        elif scope["method"] not in SAFE_METHODS:
            body = await _read_body(receive)
            token = headers.get(CSRF_HEADER, b"").decode("latin-1") or _form_field(body)
            if body is None:
                problem = (413, "request too large")
            elif fresh or not hmac.compare_digest(token.encode(), csrf.encode()):
                problem = (403, "CSRF token missing or wrong: reload the page")
            else:
                receive = _replay(body, receive)
        if problem is None and not self._may_pass(scope, cookies):
            if scope["path"].startswith("/api/") or scope["method"] not in SAFE_METHODS:
                problem = (401, "log in first")
            else:
                where = urllib.parse.quote(scope["path"] + (
                    "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""))
                await _respond(send_with_headers, 303, "log in first",
                               [(b"location", f"/login?next={where}".encode())])
                return
        if problem is not None:
            await _respond(send_with_headers, *problem)
            return
        await self.app(scope, receive, send_with_headers)

    def _may_pass(self, scope, cookies: dict[str, str]) -> bool:
        if self.policy.password is None:
            return True
        if scope["path"].startswith(PUBLIC_PATHS):
            return True
        return self.policy.sessions.valid(cookies.get(SESSION_COOKIE))


def cookie(name: str, value: str, *, max_age: float | None = None, secure: bool = False) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, whole site."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def _host_name(headers: dict[bytes, bytes]) -> str:
    host = headers.get(b"host", b"").decode("latin-1")
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _form_field(body: bytes | None) -> str:
    if not body:
        return ""
    values = urllib.parse.parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD, [""])
    return values[0]


async def _read_body(receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then):
    """A ``receive`` that gives the body read for the CSRF check, then the real one's
    messages (a disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


async def _respond(send, status: int, text: str,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
