"""Sign-in to the web chat: the users file, the rate limit on wrong passwords (a fake clock, no
sleeping), and the real ``rag serve`` on a non-loopback address, asked over HTTP what it lets
through without and with a session."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from rag.errors import RagError
from rag.web.auth import SignIn, Users, for_host

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture
def users(tmp_path):
    found = Users(tmp_path / "conf" / "users.txt")
    found.add("alice", "correct horse")
    return found


# ---- the users file ----------------------------------------------------------------------------
def test_a_user_signs_in_with_its_password_only(users):
    assert users.verify("alice", "correct horse")
    assert not users.verify("alice", "correct horsE") and not users.verify("bob", "correct horse")
    assert users.names() == ["alice"]


def test_the_file_holds_salted_hashes_readable_by_its_owner_only(users):
    users.add("bob", "correct horse")
    text = users.path.read_text()
    assert "correct horse" not in text
    alice, bob = (line.split(":") for line in text.splitlines())
    assert alice[1] == bob[1] == "scrypt" and alice[5] != bob[5] and alice[6] != bob[6]  # own salt, own hash
    assert os.stat(users.path).st_mode & 0o777 == 0o600
    assert os.stat(users.path.parent).st_mode & 0o777 == 0o700


def test_a_new_password_replaces_the_old_and_remove_forgets_the_user(users):
    assert users.add("alice", "battery staple") is False
    assert users.verify("alice", "battery staple") and not users.verify("alice", "correct horse")
    users.remove("alice")
    assert users.names() == [] and not users.verify("alice", "battery staple")
    with pytest.raises(RagError, match=r"^no user 'alice' in '.*users.txt': rag users list shows who is there$"):
        users.remove("alice")


@pytest.mark.parametrize("name, password, message", [
    ("al ice", "correct horse", r"^user name 'al ice' is not allowed: use 1 to 64 letters"),
    ("alice", "short", r"^the password is too short: use at least 8 characters$"),
])
def test_bad_names_and_short_passwords_are_refused(tmp_path, name, password, message):
    with pytest.raises(RagError, match=message):
        Users(tmp_path / "users.txt").add(name, password)
    assert not (tmp_path / "users.txt").exists()


def test_a_broken_line_is_one_error_naming_it(users):
    users.path.write_text(users.path.read_text() + "\nbob:plain:secret\n")
    with pytest.raises(RagError) as err:
        users.verify("alice", "correct horse")
    assert str(err.value) == (f"{users.path}:3: not a user line (NAME:scrypt:N:R:P:SALT:HASH): "
                              f"remove it, then rag users add NAME again")


# ---- the rate limit ----------------------------------------------------------------------------
class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def test_wrong_passwords_lock_the_name_for_a_doubling_time(users):
    clock = Clock()
    sign_in = SignIn(users, clock=clock, free=3, base=1.0, most=300.0)
    assert [sign_in.attempt("alice", "guess") for _ in range(3)] == [False] * 3   # three free mistakes
    sign_in.attempt("alice", "guess")                 # the 4th: locked 1 s
    assert not sign_in.attempt("alice", "correct horse"), "locked: even the right password waits"
    clock.now += 1.0
    sign_in.attempt("alice", "guess")                 # the 5th: 2 s
    clock.now += 1.9
    assert not sign_in.attempt("alice", "correct horse")
    clock.now += 0.1
    assert sign_in.attempt("alice", "correct horse"), "the lock is over"
    assert [sign_in.attempt("alice", "guess") for _ in range(3)] == [False] * 3
    assert sign_in.attempt("alice", "correct horse"), "a sign-in cleared the count"


def test_the_lock_stops_doubling_at_its_ceiling(users):
    clock = Clock()
    sign_in = SignIn(users, clock=clock, free=0, base=1.0, most=60.0)
    for _ in range(12):                               # 1, 2, 4 … 32, then 60 s (not 2048)
        sign_in.attempt("alice", "guess")
        clock.now += 60.0
    clock.now -= 0.5
    assert not sign_in.attempt("alice", "correct horse")
    clock.now += 0.5
    assert sign_in.attempt("alice", "correct horse")


def test_failures_are_forgotten_after_the_ceiling_without_one(users):
    clock = Clock()
    sign_in = SignIn(users, clock=clock, free=2, most=60.0)
    sign_in.attempt("alice", "guess"), sign_in.attempt("alice", "guess")
    clock.now += 61
    sign_in.attempt("alice", "guess")                 # the first of a new count: no lock
    assert sign_in.attempt("alice", "correct horse")


def test_one_name_locked_leaves_the_others_alone(users):
    users.add("bob", "battery staple")
    sign_in = SignIn(users, clock=Clock(), free=0)
    sign_in.attempt("alice", "guess")
    assert not sign_in.attempt("alice", "correct horse") and sign_in.attempt("bob", "battery staple")


def test_a_name_is_checked_one_sign_in_at_a_time(users, monkeypatch):
    """Guesses sent at once must not all slip in before the first failure is counted."""
    sign_in = SignIn(users, clock=Clock())
    seen = []
    monkeypatch.setattr(users.__class__, "verify",
                        lambda self, name, password: seen.append(sign_in.attempt(name, password)) or False)
    assert not sign_in.attempt("alice", "guess")
    assert seen == [False], "the inner sign-in, during the first's check, was refused unchecked"
    monkeypatch.undo()
    assert sign_in.attempt("alice", "correct horse"), "and the name is free again after it"


def test_failures_are_logged_with_the_name_never_the_password(users, caplog):
    sign_in = SignIn(users, clock=Clock(), free=1)
    with caplog.at_level(logging.INFO, logger="rag.web.auth"):
        sign_in.attempt("alice", "guess-one")
        sign_in.attempt("alice", "guess-two")
        sign_in.attempt("alice", "correct horse")
    assert caplog.messages == ["wrong password for user 'alice' (1 in a row)",
                               "wrong password for user 'alice' (2 in a row; locked for 1 s)",
                               "sign-in refused for user 'alice': locked for 1 s more after 2 wrong passwords"]
    assert "guess" not in caplog.text and "horse" not in caplog.text


# ---- which addresses need it -------------------------------------------------------------------
def test_loopback_without_users_opens_without_sign_in_and_the_network_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for host in ("127.0.0.1", "::1", "localhost"):
        assert for_host(None, host)[0] is None
    with pytest.raises(RagError, match=r"^serving on 127.0.0.2 opens the chat to the network: create a user "
                                       r"with rag users add NAME \(kept in .*/.config/rag/users.txt"):
        for_host(None, "127.0.0.2")
    with pytest.raises(RagError, match="^no users in the auth file '.*empty.txt': add one with rag users add NAME"):
        for_host(tmp_path / "empty.txt", "127.0.0.1")


# ---- the real server ---------------------------------------------------------------------------
LAUNCHER = """\
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import TEST_GATE, FakeEmbedder, FakeGenerator, FakeReader, answer_from_evidence
    from rag.pipeline import Pipeline, builder, parts

    # What the fake_models fixture does, in this process: no real model is loaded.
    builder.build = lambda settings, **given: Pipeline(settings, **{{
        "embedder": FakeEmbedder(), "generator": FakeGenerator(answer_from_evidence), "gate_model": TEST_GATE,
        "reader": FakeReader(), **given}})
    parts.embedder = lambda settings: FakeEmbedder()
    parts.reader = lambda settings: FakeReader()
    from rag.cli import main
    main()
"""


@pytest.fixture
def signed_server(tmp_path, corpus, users):
    """``rag serve --host 127.0.0.2`` with the users file, in its own process (fake models): its URL."""
    from rag.models.llm_server import free_port

    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(LAUNCHER.format(tests=str(TESTS))))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    proc = subprocess.Popen([sys.executable, str(launcher), "serve", "--host", "127.0.0.2", "--port", str(port),
                             "--auth-file", str(users.path), "--corpus", str(corpus), "--index", str(tmp_path / "ix")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**env, "RAG_MIN_SCORE": "0", "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path),
                                 "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])})
    try:
        output = []
        for line in proc.stdout:
            output.append(line)
            if line.startswith("ready on"):
                break
        assert output and output[-1] == f"ready on http://127.0.0.2:{port}\n", "".join(output)
        yield f"http://127.0.0.2:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_served_chat_asks_for_sign_in_on_every_route(signed_server, users):
    upload = {"files": ("note.txt", b"Lyon\nLe musee de Lyon expose 37 automates.\n", "text/plain")}
    with httpx.Client(base_url=signed_server, trust_env=False, timeout=30) as anyone:
        page = anyone.get("/")
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        assert "Questions sur les articles" not in page.text, "the login page, not the chat"
        for route in ("/config", "/gradio_api/info", "/gradio_api/upload_progress?upload_id=x",
                      f"/gradio_api/file={users.path}"):
            assert anyone.get(route).status_code == 401, route
        assert anyone.post("/gradio_api/upload", files=upload).status_code == 401
        assert anyone.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0,
                                                           "session_hash": "x"}).status_code == 401
        assert anyone.post("/login", data={"username": "alice", "password": "wrong"}).status_code == 400
        assert "access-token" not in str(anyone.cookies)

    with httpx.Client(base_url=signed_server, trust_env=False, timeout=30) as alice:
        signed = alice.post("/login", data={"username": "alice", "password": "correct horse"})
        assert signed.status_code == 200 and signed.json() == {"success": True}
        assert any(name.startswith("access-token") for name in alice.cookies)
        assert "Questions sur les articles" in alice.get("/config").text
        uploaded = alice.post("/gradio_api/upload", files=upload)
        assert uploaded.status_code == 200 and uploaded.json()[0].endswith("note.txt")
        assert alice.get(f"/gradio_api/file={users.path}").status_code == 403, "the users file is never served"


# ---- the commands ------------------------------------------------------------------------------
TWICE = "correct horse\ncorrect horse\n"


def test_serve_beyond_this_machine_needs_a_user_first(rag, user, no_server):
    refused = rag("rag serve --host 0.0.0.0             # the whole network: sign-in on every page")
    assert refused.exit_code == 1 and no_server == []
    assert refused.stderr == (f"error: serving on 0.0.0.0 opens the chat to the network: create a user with rag "
                              f"users add NAME (kept in {user}/.config/rag/users.txt; --auth-file FILE or "
                              f"RAG_AUTH_FILE for another file)\n")
    added = rag("rag users add alice                  # asks for her password twice (not shown)", input=TWICE)
    assert added.exit_code == 0, added.stderr
    assert added.stdout.endswith(f"added alice in {user}/.config/rag/users.txt\n") and "horse" not in added.output
    served = rag("rag serve --host 0.0.0.0             # the whole network: sign-in on every page")
    assert served.exit_code == 0, served.stderr
    check = no_server[0]["auth"]
    assert asyncio.run(check("alice", "correct horse")) and not asyncio.run(check("alice", "wrong"))
    assert no_server[0]["blocked_paths"] == [str(user / ".config" / "rag" / "users.txt")]


def test_users_are_listed_and_removed(rag, user, no_server):
    for name in ("alice", "bob"):
        assert rag(f"rag users add {name}", input=TWICE).exit_code == 0
    assert rag("rag users list").stdout == "alice\nbob\n"
    removed = rag("rag users remove alice")
    assert removed.exit_code == 0 and removed.stdout == f"removed alice from {user}/.config/rag/users.txt\n"
    assert rag("rag users list").stdout == "bob\n"
    again = rag("rag users remove alice")
    assert again.exit_code == 1 and again.stderr.startswith("error: no user 'alice' in ")
    rag("rag users remove bob")
    assert rag("rag serve").exit_code == 0 and no_server[-1]["auth"] is None, "no users left: loopback, no sign-in"


def test_another_users_file_by_variable_or_option(rag, user, no_server):
    added = rag("RAG_AUTH_FILE=~/newsroom/users.txt rag users add bob", input=TWICE)
    assert added.exit_code == 0, added.stderr
    assert (user / "newsroom" / "users.txt").exists() and not (user / ".config").exists()
    served = rag("rag serve --host 0.0.0.0 --auth-file ~/newsroom/users.txt")
    assert served.exit_code == 0, served.stderr
    assert asyncio.run(no_server[0]["auth"]("bob", "correct horse"))


@pytest.mark.parametrize("typed, error", [
    ("short\nshort\n", "error: the password is too short: use at least 8 characters\n"),
    ("correct horse\ncorrect horsE\n", "error: the two passwords differ: nothing changed, run rag users add NAME "
                                       "again\n"),
    ("", "Aborted!\n"),
])
def test_a_short_or_mistyped_password_adds_nobody(rag, user, typed, error):
    result = rag("rag users add NAME", input=typed)     # Troubleshooting's line, NAME a name like any
    assert result.exit_code == 1 and result.stderr.endswith(error)
    assert not (user / ".config" / "rag" / "users.txt").exists()


def test_a_broken_users_file_is_one_line(rag, user):
    (user / "users.txt").write_text("alice:correct horse\n")
    result = rag("rag users list --auth-file ~/users.txt")
    assert result.exit_code == 1
    assert result.stderr == (f"error: {user}/users.txt:1: not a user line (NAME:scrypt:N:R:P:SALT:HASH): "
                             f"remove it, then rag users add NAME again\n")
