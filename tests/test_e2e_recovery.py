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
    tmux_host.run("set-environment", "-gh", STATUS_OPTION, "5 guests: main(5)")
    srv = start_server()
    try:
        wait_until(lambda: shown(tmux_host) == "shared: main", timeout=10, what="status reset")
    finally:
        srv.stop()


def test_a_new_server_clears_the_status_option_an_older_pairtui_left(
    tmux_host: TmuxHost,
) -> None:
    """Older versions kept the count in a user option, which hides what is kept now."""
    share_host_session(tmux_host)
    tmux_host.run("set-option", "-gq", STATUS_OPTION, "5 guests: main(5)")
    srv = start_server()
    try:
        wait_until(lambda: shown(tmux_host) == "shared: main", timeout=10, what="status reset")
        assert tmux_host.run("show-options", "-gq", STATUS_OPTION) == ""  # unset, not ""
    finally:
        srv.stop()
    assert shown(tmux_host) == ""  # and cleared when the server ends


def shown(host: TmuxHost) -> str:
    """What the host's status segment shows."""
    return host.run("display-message", "-p", f"#{{{STATUS_OPTION}}}").strip()
