"""Types of the native relay (pairtui/_relay.c); see pairtui/native_relay.py."""

from typing import TypedDict

class State(TypedDict):
    reason: int
    err: int
    recv_iv: bytes
    send_iv: bytes
    recv_seq: int
    send_seq: int
    recv_window: int
    send_window: int
    rekey_sent: int
    leftover: bytes
    unsent: bytes
    pty_input: bytes
    last_input: float
    packets_in: int
    packets_out: int

class Relay:
    def __init__(
        self, sock: int, pty: int, recv_key: bytes, send_key: bytes, max_recv_pktlen: int
    ) -> None: ...
    @property
    def notefd(self) -> int: ...
    @property
    def running(self) -> bool: ...
    @property
    def last_input(self) -> float: ...
    @property
    def packets_in(self) -> int: ...
    @property
    def packets_out(self) -> int: ...
    def start(
        self,
        *,
        recv_iv: bytes,
        send_iv: bytes,
        recv_seq: int,
        send_seq: int,
        our_channel: int,
        peer_channel: int,
        recv_window: int,
        init_recv_window: int,
        recv_pktsize: int,
        send_window: int,
        send_pktsize: int,
        rekey_sent: int,
        rekey_limit: int,
        rekey_time: float,
        enchdrlen: int,
        input: bool,
    ) -> None: ...
    def stop(self) -> State | None: ...
