"""Sign-in to the web chat: the users file (salted scrypt hashes) and the check Gradio's auth runs.

The file holds one user a line, ``NAME:scrypt:N:R:P:SALT:HASH`` (SALT and HASH in hex, the hash
``hashlib.scrypt(password, salt, n=N, r=R, p=P)``); blank lines are skipped.
It is written with mode 0600 and never holds a password.

>>> line = _line("alice", "correct horse")
>>> line.split(":")[:5]
['alice', 'scrypt', '16384', '8', '1']
>>> _matches(line.split(":", 1)[1], "correct horse"), _matches(line.split(":", 1)[1], "wrong")
(True, False)

``SignIn`` is what ``demo.launch(auth=…)`` calls: wrong passwords lock the user name out for a
time that doubles with every failure after the first few, and each one is logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 8
# scrypt's cost: 16 MiB and ~50 ms a check here (OWASP's minimum is N=2^17 with r=8 at p=1, or
# N=2^14 at higher p; 2^14 keeps a sign-in fast on a 2-core machine). Stored per line, so a
# stronger setting later still reads the old lines.
N, R, P = 2 ** 14, 8, 1


def default_file() -> Path:
    """Where ``rag users`` keeps the users when no --auth-file / RAG_AUTH_FILE says otherwise."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "rag" / "users.txt"


def users_file(auth_file: Path | None) -> Path:
    """The users file a command reads: the --auth-file / RAG_AUTH_FILE given, else ``default_file()``."""
    return (auth_file or default_file()).expanduser().resolve()


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n, dklen=32)


def _line(name: str, password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{name}:scrypt:{N}:{R}:{P}:{salt.hex()}:{_hash(password, salt, N, R, P).hex()}"


def _matches(record: str, password: str) -> bool:
    """Whether ``password`` hashes to ``record`` (a line without its name), in constant time."""
    _, n, r, p, salt, digest = record.split(":")
    return hmac.compare_digest(_hash(password, bytes.fromhex(salt), int(n), int(r), int(p)), bytes.fromhex(digest))


# Checked against for unknown names, so a wrong name takes as long as a wrong password.
_NOBODY = _line("nobody", secrets.token_hex(16)).split(":", 1)[1]


@dataclass(frozen=True)
class Users:
    """The users file at ``path``: read on every change, written whole (mode 0600)."""

    path: Path

    def read(self) -> dict[str, str]:
        """name → its record (the line after ``NAME:``); a missing file has no users."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as e:
            raise RagError(f"cannot read the users file '{self.path}' ({e}): fix or remove it") from None
        users = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            name, _, record = line.partition(":")
            parts = record.split(":")
            if not (NAME.fullmatch(name) and len(parts) == 6 and parts[0] == "scrypt"
                    and all(x.isdigit() for x in parts[1:4]) and _is_hex(parts[4]) and _is_hex(parts[5])):
                raise RagError(f"{self.path}:{number}: not a user line (NAME:scrypt:N:R:P:SALT:HASH): "
                               f"remove it, then rag users add NAME again")
            users[name] = record
        return users

    def names(self) -> list[str]:
        return sorted(self.read())

    def add(self, name: str, password: str) -> bool:
        """Add ``name`` (or set its new password); True when it is new."""
        if not NAME.fullmatch(name):
            raise RagError(f"user name {name!r} is not allowed: use 1 to 64 letters, digits, '.', '_', '@' or '-'")
        if len(password) < MIN_PASSWORD:
            raise RagError(f"the password is too short: use at least {MIN_PASSWORD} characters")
        users = self.read()
        new = name not in users
        users[name] = _line(name, password).split(":", 1)[1]
        self._write(users)
        return new

    def remove(self, name: str) -> None:
        users = self.read()
        if name not in users:
            raise RagError(f"no user {name!r} in '{self.path}': rag users list shows who is there")
        del users[name]
        self._write(users)

    def verify(self, name: str, password: str) -> bool:
        record = self.read().get(name)
        return _matches(record or _NOBODY, password) and record is not None

    def _write(self, users: dict[str, str]) -> None:
        # A new file next to the old one, created 0600 (never readable by others, even for a moment),
        # then renamed over it: a crash leaves the old file or the new one, not half of one.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(f"{name}:{record}\n" for name, record in sorted(users.items())))
        os.replace(tmp, self.path)


def _is_hex(text: str) -> bool:
    try:
        return bool(bytes.fromhex(text))
    except ValueError:
        return False


@dataclass
class _Failures:
    count: int
    last: float
    until: float


class SignIn:
    """The check behind Gradio's login form: ``users`` verifies the password; after ``free`` wrong
    passwords in a row a name is locked for ``base`` seconds, doubling with each further failure up
    to ``most``; a right password clears it, and so do ``most`` seconds without a failure.

    A locked name is refused without looking at the password (a guess during the lock is wasted), and
    so is a second sign-in for a name whose first is still being checked.
    Gradio calls the check with the name and password only, so the limit is per user name.
    """

    def __init__(self, users: Users, clock=time.monotonic, free: int = 3, base: float = 1.0, most: float = 300.0):
        self.users, self.clock, self.free, self.base, self.most = users, clock, free, base, most
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()
        self._checking: set[str] = set()   # names whose password is being hashed right now

    def attempt(self, name: str, password: str) -> bool:
        with self._lock:
            now = self.clock()
            failures = self._failures.get(name)
            if failures and now - failures.last > self.most:
                del self._failures[name]
                failures = None
            if failures and now < failures.until:
                log.warning("sign-in refused for user %r: locked for %.0f s more after %d wrong passwords",
                            name, failures.until - now, failures.count)
                return False
            if name in self._checking:      # parallel guesses would all pass the check above
                log.warning("sign-in refused for user %r: another sign-in for it is being checked", name)
                return False
            self._checking.add(name)
        try:
            right = self.users.verify(name, password)
        finally:
            with self._lock:
                self._checking.discard(name)
        with self._lock:
            if right:
                self._failures.pop(name, None)
                log.info("user %r signed in", name)
                return True
            failures = self._failures.setdefault(name, _Failures(0, now, now))
            failures.count += 1
            failures.last = now
            over = failures.count - self.free
            failures.until = now + (min(self.most, self.base * 2 ** (over - 1)) if over > 0 else 0)
            log.warning("wrong password for user %r (%d in a row%s)", name, failures.count,
                        f"; locked for {failures.until - now:.0f} s" if over > 0 else "")
            return False

    async def check(self, name: str, password: str) -> bool:
        """``attempt`` for ``demo.launch(auth=sign_in.check)``: a coroutine function (Gradio awaits
        it only when ``inspect.iscoroutinefunction`` says so), scrypt's tens of milliseconds kept off
        the server's event loop."""
        return await asyncio.to_thread(self.attempt, name, password)


def for_host(auth_file: Path | None, host: str) -> tuple[SignIn | None, Path]:
    """The sign-in ``rag serve`` on ``host`` needs (None: none) and the users file it reads.

    With users in the file, every address asks for sign-in; without, only this machine's own
    addresses open the chat.
    """
    path = users_file(auth_file)
    users = Users(path)
    if users.read():
        return SignIn(users), path
    if auth_file is not None:
        raise RagError(f"no users in the auth file '{path}': add one with rag users add NAME --auth-file {path}")
    if host not in LOOPBACK:
        raise RagError(f"serving on {host} opens the chat to the network: create a user with rag users add NAME "
                       f"(kept in {path}; --auth-file FILE or RAG_AUTH_FILE for another file)")
    return None, path
