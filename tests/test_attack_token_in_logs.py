"""Attack: an invitation's token must never reach the audit log or the server's log.

The token is the secret an ``inv-TOKEN`` user name carries (only its hash is stored).
With ``pairtui serve -v`` (debug) the server's log takes asyncssh's INFO lines too, and
asyncssh names the user at every login: ``Beginning auth for user inv-…``, ``Auth for
user inv-… succeeded``. A log (a file, the journal) read by anyone else then holds a
token that may still let keys in (uses left, ``--admit ask``).

Real OpenSSH, real tmux, real `pairtui serve -v`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import Server, SshGuest, TmuxHost, pairtui, share, start_server, type_in_host

from pairtui import paths

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


@pytest.fixture
def verbose(tmux_host: TmuxHost) -> Iterator[Server]:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server("-v")
    yield srv
    srv.stop()


def test_a_token_used_at_login_is_in_neither_the_servers_log_nor_the_audit_log(
    verbose: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    res = pairtui("invite", "--json", "--uses", "3")
    assert res.returncode == 0, res.stderr
    user = str(json.loads(res.stdout)["ssh"][0]["command"]).split()[-1].split("@")[0]
    token = user.removeprefix("inv-")
    assert len(token) >= 8
    g = guests(verbose.port, keys("bob"), user=user)
    g.wait_for("MARK-21")
    g.close()
    wrong = guests(verbose.port, keys("eve"), user=f"inv-{token[:-1]}x")
    wrong.wait_exit()
    verbose.stop()
    log = "\n".join(verbose.output)
    assert "Auth" in log or "auth" in log  # asyncssh's lines are in it (-v)
    audit = paths.audit_file().read_text()
    assert token not in audit
    assert token not in log, [line for line in verbose.output if token in line]
    assert token[:-1] not in log, "a near miss of the token (one character off)"
