"""The trace pass cuts a server's syscalls into the right per-key stretches.

`benchmarks/run --trace` needs perf and root, so it is not run here; what decides its
figures is how `analyse` reads `perf script` lines, checked on the two shapes the
servers produce (recorded from real runs, pids and addresses kept, times rounded).
"""

from __future__ import annotations

from benchmarks.trace import Relay, analyse, summarize


def _stretches(text: str, relay: Relay) -> dict[str, list[float]]:
    """The relay's stretches in µs, from ``perf script --ns -F tid,time,event,trace`` lines."""
    analyse(text.splitlines(), {relay.pid: relay})
    return {k: [round(v * 1e6, 1) for v in vs] for k, vs in relay.parts.items()}


def test_sshd_shape_polls_again_between_its_read_and_its_write() -> None:
    # sshd: ppoll returns, read the socket (fd 4), ppoll again (the PTY is writable),
    # write the key to the PTY (fd 3); later the echo: read the PTY (fd 7), write fd 4.
    lines = """\
28455 10.000000000:  raw_syscalls:sys_exit: NR 271 = 1
28455 10.000020000: raw_syscalls:sys_enter: NR 0 (4, 7f445d1dc010, 40000, 0, 0, 0)
28455 10.000050000: raw_syscalls:sys_enter: NR 271 (55f621097b00, 4, 0, 7ffc119848b0, 8, 0)
28455 10.000055000:  raw_syscalls:sys_exit: NR 271 = 1
28455 10.000060000: raw_syscalls:sys_enter: NR 1 (3, 55f62108ca90, 3, 0, 0, 0)
28455 10.000300000: raw_syscalls:sys_enter: NR 271 (55f621097b00, 3, 0, 7ffc119848b0, 8, 0)
28455 10.000500000:  raw_syscalls:sys_exit: NR 271 = 1
28455 10.000505000: raw_syscalls:sys_enter: NR 0 (7, 55f62109a330, 8000, 0, 0, 0)
28455 10.000515000: raw_syscalls:sys_enter: NR 271 (55f621097b00, 3, 0, 7ffc119848b0, 8, 0)
28455 10.000517000:  raw_syscalls:sys_exit: NR 271 = 1
28455 10.000530000: raw_syscalls:sys_enter: NR 1 (4, 55f62108ca90, 2c, 0, 0, 0)
"""
    assert _stretches(lines, Relay(28455, {4}, {3, 7})) == {
        "in: wake to read": [20.0], "in: read to write": [40.0], "in: wake to write": [60.0],
        "out: wake to read": [5.0], "out: read to write": [25.0], "out: wake to write": [30.0],
    }  # fmt: skip


def test_pairtui_shape_and_what_is_not_a_key() -> None:
    # pairtui serve: epoll returns, recvfrom the socket (fd 8), write the PTY (fd 9);
    # then read the PTY, sendto the socket. Around them: a timeout (= 0, no stretch), a
    # read that is not followed by a write, a window adjust sent to the socket before
    # the key reaches the PTY (not the key's write), and another thread.
    lines = """\
28578 20.000000000:  raw_syscalls:sys_exit: NR 232 = 0
28578 20.010000000:  raw_syscalls:sys_exit: NR 232 = 1
28578 20.010080000: raw_syscalls:sys_enter: NR 45 (8, 562dae4e67d0, 40000, 0, 0, 0)
28578 20.010100000: raw_syscalls:sys_enter: NR 232 (3, 7f61f0f7e240, 6, 3d0, 0, 0)
28578 20.020000000:  raw_syscalls:sys_exit: NR 232 = 1
28578 20.020070000: raw_syscalls:sys_enter: NR 45 (8, 562dae4e67d0, 40000, 0, 0, 0)
28594 20.020080000: raw_syscalls:sys_enter: NR 1 (9, 7f61f0fac4a0, 3, 0, 0, 0)
28578 20.020120000: raw_syscalls:sys_enter: NR 44 (8, 7f61f0fbb050, 34, 0, 0, 0)
28578 20.020160000: raw_syscalls:sys_enter: NR 1 (9, 7f61f0fac4a0, 3, 0, 0, 0)
28578 20.020180000: raw_syscalls:sys_enter: NR 232 (3, 7f61f0f7e240, 6, 3d0, 0, 0)
28578 20.020400000:  raw_syscalls:sys_exit: NR 232 = 1
28578 20.020430000: raw_syscalls:sys_enter: NR 0 (9, 562dae4a6cd0, 10000, 6d800, 0, 0)
28578 20.020480000: raw_syscalls:sys_enter: NR 44 (8, 7f61f0fbb050, 34, 0, 0, 0)
"""
    relay = Relay(28578, {8}, {9})
    assert _stretches(lines, relay) == {
        "in: wake to read": [70.0], "in: read to write": [90.0], "in: wake to write": [160.0],
        "out: wake to read": [30.0], "out: read to write": [50.0], "out: wake to write": [80.0],
    }  # fmt: skip
    relay.keys, relay.oncpu = 1, 0.0004
    summary = summarize(relay)
    assert summary["critical_p50_us"] == 240.0
    assert summary["oncpu_per_key_us"] == 400.0
