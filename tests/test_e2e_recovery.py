"""After a server was killed (kill -9: no chance to clean up), the next one starts from
the truth, not from what the dead one left in the host's tmux."""

from __future__ import annotations

import pytest
from support import TmuxHost, share_host_session, start_server, wait_until

from pairtui.tmux import STATUS_OPTION

pytestmark = pytest.mark.e2e


def test_a_new_server_clears_the_guest_count_a_killed_one_left_in_the_status(
    tmux_host: TmuxHost,
) -> None:
    share_host_session(tmux_host)
    # What a server killed with five guests in leaves behind (it never reached close()).
    tmux_host.run("set-option", "-gq", STATUS_OPTION, "5 guests: main(5)")
    srv = start_server()
    try:
        wait_until(
            lambda: tmux_host.run("show-options", "-gqv", STATUS_OPTION).strip() == "",
            timeout=10,
            what="the status cleared by the new server",
        )
    finally:
        srv.stop()
