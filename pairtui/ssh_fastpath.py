"""asyncssh's per-packet path, made cheaper for guest connections.

Every key a guest types and every screen update it gets is one SSH packet, and on a
guest's echo the server's Python time per packet was most of the gap to OpenSSH. A
profile of `pairtui serve` found work asyncssh does per packet that buys us nothing:

- a new ``AESGCM`` object (an OpenSSL context) for every packet, in and out;
- formatting a debug line for every packet, then throwing it away unless debug level 3;
- an empty MSG_IGNORE before every packet sent, written to the socket on its own (a
  countermeasure for CBC ciphers; the embedded server only negotiates AES-GCM);
- re-arming the keepalive timer (a heap push) for every packet received.

:func:`install` changes the first two for the whole process (same behaviour, less work:
tunnel clients get them too, and the strict framing below is as welcome there);
:class:`ConnectionFastPath` the last two, per guest connection, and owns the
connection's ``data_received`` for its lifetime: quick ACKs during the handshake, then
:class:`ChannelFastPath` for each guest terminal. All of it reaches into asyncssh's
private state, so it runs only on the asyncssh versions it was tested with
(:data:`TESTED_ASYNCSSH`, and ``pyproject.toml`` bounds asyncssh to them); any other
asyncssh is used as it is: slower, never broken.

Over 400 lines: the connection's half and the channel's half keep asyncssh's private
state (sequence numbers, IVs, windows, rekey counts) exactly as asyncssh would, and
hand it to a native relay and take it back (:meth:`ChannelFastPath.hand_over`,
:meth:`ChannelFastPath.take_back`); those invariants are easiest to check side by side,
in one file, the one that touches asyncssh's private state.

Packets come from guests, so whatever reads them frames them as strictly as the RFCs
say, on both paths: asyncssh 2.24 lets through padding under 4 bytes, packet lengths
that are not whole cipher blocks and channel data over the channel's maximum packet
size. The cached AES-GCM cipher (every encrypted packet asyncssh reads) and the guest
channels :class:`ChannelFastPath` serves refuse them, ending the connection as any other
protocol error does; the fast path hands such packets to asyncssh untouched, to be refused.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import asyncssh
import asyncssh.encryption
import asyncssh.logging
import asyncssh.packet
from asyncssh.constants import MSG_CHANNEL_DATA, MSG_CHANNEL_WINDOW_ADJUST, MSG_IGNORE
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")

# asyncssh releases (major.minor) whose internals this module was written and tested
# against. Moving on is deliberate: run tests/test_ssh_fastpath.py and the benchmarks on
# the new release, then add it here and raise the bound in pyproject.toml.
TESTED_ASYNCSSH = frozenset({"2.24"})

_installed = False


def tested(version: str | None = None) -> bool:
    """Whether this asyncssh (or ``version``) is one the fast path knows."""
    v = version if version is not None else getattr(asyncssh, "__version__", "")
    return ".".join(v.split(".")[:2]) in TESTED_ASYNCSSH


def install() -> None:
    """Process-wide: cache each direction's AES-GCM context; skip unused packet logs."""
    global _installed
    if _installed or not tested():
        return
    _installed = True
    base = getattr(asyncssh.encryption, "GCMCipher", None)
    if base is not None and hasattr(base, "_update_iv") and hasattr(base, "encrypt_and_sign"):
        setattr(asyncssh.encryption, "GCMCipher", _gcm_cipher_class(base))  # noqa: B010
    logger_cls = getattr(asyncssh.logging, "SSHLogger", None)
    packet_logger = getattr(asyncssh.packet, "SSHPacketLogger", None)
    if logger_cls is not None and hasattr(logger_cls, "_debug_level") and packet_logger:
        log_packet = packet_logger._log_packet

        def _log_packet(self: Any, *args: Any) -> None:
            if logger_cls._debug_level >= 3:  # the only level SSHLogger.packet writes at
                log_packet(self, *args)

        packet_logger._log_packet = _log_packet


def _gcm_cipher_class(base: type[Any]) -> type[Any]:
    class CachedGCMCipher(base):  # type: ignore[misc]
        """asyncssh's GCMCipher with one AESGCM per key instead of one per packet.

        It also refuses the framing RFC 4253 section 6 forbids, which asyncssh's own
        packet reader lets through: this is where every encrypted packet passes.
        """

        def __init__(self, cipher_name: str, key: bytes, iv: bytes) -> None:
            super().__init__(cipher_name, key, iv)
            self._aead = AESGCM(key)

        def encrypt_and_sign(self, header: bytes, data: bytes) -> tuple[bytes, bytes]:
            out = self._aead.encrypt(self._iv, data, header)
            self._update_iv()
            return header + out[:-16], out[-16:]

        def verify_and_decrypt(self, header: bytes, data: bytes, mac: bytes) -> bytes | None:
            if not _whole_blocks(int.from_bytes(header, "big")):
                raise asyncssh.ProtocolError("Packet length not a multiple of the block size")
            try:
                plain: bytes | None = self._aead.decrypt(self._iv, data + mac, header)
            except InvalidTag:
                plain = None
            self._update_iv()
            if plain is not None and not 4 <= plain[0] <= len(plain) - 2:
                raise asyncssh.ProtocolError("Invalid padding length")  # 4+, and a type byte
            return plain

    return CachedGCMCipher


def _whole_blocks(length: int) -> bool:
    """An AES-GCM packet's length field: one or more whole 16-byte blocks (RFC 5647 7.2)."""
    return length > 0 and not length & 15


class ConnectionFastPath:
    """One guest connection's packets: the only code that replaces its ``data_received``.

    Made when the connection is, it stays until the connection ends. During the
    handshake it ACKs every segment at once: the OpenSSH client still has Nagle on and
    waits for our ACK before sending its next small packet, while Linux delays that ACK
    by ~40 ms when we have nothing to send back (one or two such stalls were most of a
    guest's connect time); :meth:`interactive` ends that once a terminal starts. Each
    terminal's channel joins with :meth:`channel`; a packet for a channel that joined is
    read here, anything else goes to asyncssh as it came.

    It also drops the empty MSG_IGNORE asyncssh sends before every packet (a CBC
    countermeasure; the embedded server negotiates AES-GCM only) and arms the keepalive
    timer once instead of re-creating it for every packet received.
    """

    def __init__(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn: Any = conn
        self.enabled = _installed and all(hasattr(conn, a) for a in _CONN_ATTRS)
        self._slow_receive = conn.data_received
        self._pkthdr = getattr(type(conn), "_recv_pkthdr", None)
        self._channels: dict[int, ChannelFastPath] = {}
        # Native relays of this connection's terminals (pairtui.native_relay): each is
        # stopped, and asyncssh's state put back, before any packet is sent through
        # asyncssh and when a second terminal joins (a relay runs only while its terminal
        # is the connection's one: so this path's own sends never meet a running relay).
        self.relays: list[Callable[[], None]] = []
        sock = conn.get_extra_info("socket")
        quickack = getattr(socket, "TCP_QUICKACK", None)
        self._quickack: tuple[socket.socket, int] | None = (
            (sock, quickack) if sock is not None and quickack is not None else None
        )
        if self.enabled:
            self._tune()
        conn.data_received = self.receive  # type: ignore[method-assign]

    def interactive(self) -> None:
        """The guest's client is interactive now (TCP_NODELAY): no more quick ACKs."""
        self._quickack = None

    def channel(
        self, chan: asyncssh.SSHServerChannel[bytes], deliver: Callable[[bytes], None]
    ) -> ChannelFastPath:
        """The fast path for one terminal's channel; ``deliver`` gets what the guest types."""
        fast = ChannelFastPath(self, chan, deliver)
        if fast.enabled:
            for stop in self.relays:  # the terminal already here is no longer alone
                stop()
            self._channels[fast.number] = fast
        return fast

    def _leave(self, fast: ChannelFastPath) -> None:
        if self._channels.get(fast.number) is fast:
            del self._channels[fast.number]

    def _tune(self) -> None:
        conn = self._conn
        send_packet = conn.send_packet
        depth = 0

        def send_packet_once(pkttype: int, *args: bytes, handler: Any = None) -> None:
            nonlocal depth
            if (
                depth
                and pkttype == MSG_IGNORE
                and conn.get_extra_info("send_cipher") in AEAD_CIPHERS
            ):
                return  # the empty MSG_IGNORE asyncssh puts before each packet
            if not depth:
                for stop in self.relays:
                    stop()
            depth += 1
            try:
                send_packet(pkttype, *args, handler=handler)
            finally:
                depth -= 1

        conn.send_packet = send_packet_once

        # asyncssh cancels and re-creates the keepalive timer for every packet received.
        # Armed once instead, it fires every interval and asks for a reply; the count of
        # unanswered asks (reset only by a reply, as before) still ends a dead connection.
        def arm_once() -> None:
            if conn._auth_complete and conn._keepalive_timer is None:
                conn._set_keepalive_timer()

        conn._reset_keepalive_timer = arm_once

    def quiet(self) -> bool:
        """Nothing half-done at the connection's level: no packet half-read, nothing
        unsent or deferred, keys exchanged and no rekey due, AES-GCM both ways (the only
        state a native relay may take over)."""
        conn = self._conn
        transport = conn._transport
        return bool(
            self.enabled
            and transport is not None
            and not transport.is_closing()
            and not transport.get_write_buffer_size()
            and not conn._inpbuf
            and getattr(conn._recv_handler, "__func__", None) is self._pkthdr
            and conn._kex_complete
            and not conn._deferred_packets
            and conn._compressor is None
            and conn._decompressor is None
            and conn._rekey_bytes_sent < conn._rekey_bytes
            and not (conn._rekey_seconds and time.monotonic() >= conn._rekey_time)
            and hasattr(getattr(conn._recv_encryption, "_cipher", None), "_aead")
            and hasattr(getattr(conn._send_encryption, "_cipher", None), "_aead")
        )

    def receive(self, data: bytes, datatype: int | None = None) -> None:
        """Whole packets from the start of ``data`` while they are ours; the rest to asyncssh."""
        if self._quickack is not None:
            sock, quickack = self._quickack
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        conn = self._conn
        pos, end = 0, len(data)
        if (
            self._channels
            and not conn._inpbuf
            and conn._decompressor is None
            and getattr(conn._recv_handler, "__func__", None) is self._pkthdr
        ):
            max_length = conn._max_recv_pktlen
            while end - pos >= 4:
                length = int.from_bytes(data[pos : pos + 4], "big")
                # Not whole blocks, or more than asyncssh takes: asyncssh refuses it.
                if length & 15 or not 0 < length <= max_length:
                    break
                size = 4 + length + 16  # length field, tag
                if end - pos < size:
                    break
                if not self._open(data if size == end else data[pos : pos + size]):
                    break
                pos += size
        if pos < end:
            self._slow_receive(data[pos:] if pos else data, datatype)

    def _open(self, packet: bytes) -> bool:
        """Decrypt and deliver one packet if it is channel data for a channel that joined
        (or an ignore).

        ``packet`` is whole 16-byte blocks (:meth:`receive` checked), so ``plain`` has at
        least 16 bytes. Every ``return False`` leaves the IV and sequence number alone.
        """
        conn = self._conn
        cipher: Any = getattr(conn._recv_encryption, "_cipher", None)
        aead = getattr(cipher, "_aead", None)
        if aead is None:
            return False
        try:
            plain = aead.decrypt(cipher._iv, packet[4:], packet[:4])
        except InvalidTag:  # asyncssh reports it (and drops the connection)
            return False
        pad, size = plain[0], len(plain)
        if pad < 4 or pad + 2 > size:  # RFC 4253: 4+ bytes of padding, and a type byte
            return False
        if plain[1] == MSG_IGNORE:
            if 6 + int.from_bytes(plain[2:6], "big") + pad != size:  # one string, no more
                return False
            fast, n = None, 0
        elif plain[1] == MSG_CHANNEL_DATA:
            fast = self._channels.get(int.from_bytes(plain[2:6], "big"))
            n = fast.accepts(plain, pad) if fast is not None else 0
            if not n:
                return False
        else:
            return False
        cipher._update_iv()
        conn._recv_seq = (conn._recv_seq + 1) & 0xFFFFFFFF
        if fast is not None:
            fast.take(plain[10 : 10 + n])
        return True


class ChannelFastPath:
    """A guest's keys in and screen out as single SSH packets, past asyncssh's layers.

    With caches cold after every idle moment (any shared machine), a packet's cost is the
    code it touches, and asyncssh's generic path (packet objects, dispatch, channel
    buffers, per-layer checks) touched several times more than the work needs. Here a
    lone CHANNEL_DATA packet for this channel is decrypted (by its connection's
    :class:`ConnectionFastPath`), checked and delivered in one pass, and screen output
    becomes one packet, with asyncssh's own state (sequence numbers, IVs, windows, rekey
    byte count) kept exactly as it would keep it. Anything else (other packets, several
    in one read, a window or a rekey due, buffered data, another cipher) goes to asyncssh
    untouched.

    The guest writes these packets, so one the protocol forbids (padding under 4 bytes,
    a length that is not whole blocks or over asyncssh's maximum, channel data over the
    maximum packet size we advertised, a malformed ignore) is not ours either: it goes
    to asyncssh with no state changed, and asyncssh (with :func:`install`'s cipher and
    this channel's check) ends the connection over it.
    """

    def __init__(
        self,
        conn: ConnectionFastPath,
        chan: asyncssh.SSHServerChannel[bytes],
        deliver: Callable[[bytes], None],
    ) -> None:
        self._owner = conn
        self._conn: Any = conn._conn
        self._chan: Any = chan
        self._deliver = deliver
        self._pool = b""
        self.fast_in = self.fast_out = 0  # packets that took this path (for tests)
        self.enabled = (
            conn.enabled
            # The channel itself, not a wrapper such as asyncssh's line editor (whose
            # attributes read through to the channel but are written on the wrapper).
            and isinstance(chan, asyncssh.SSHServerChannel)
            and all(hasattr(chan, a) for a in _CHAN_ATTRS)
        )
        number: int | None = self._chan._recv_chan if self.enabled else None
        self.enabled = number is not None  # (a channel is numbered once it is open)
        self.number = number if number is not None else -1
        if self.enabled:
            self._refuse_oversized_data()

    def close(self) -> None:
        """The terminal ended: its packets are asyncssh's again, both ways (what it still
        prints on its way out goes through ``send_packet``, which a native relay that
        took the connection over since is stopped for)."""
        self._owner._leave(self)
        self.enabled = False

    def _refuse_oversized_data(self) -> None:
        """End the connection over channel data longer than our advertised maximum.

        asyncssh only checks the window, so what the fast path passes on for being too
        big would otherwise be delivered by asyncssh. RFC 4254 section 5.2 allows at most
        the maximum packet size per message; OpenSSH, PuTTY and asyncssh never send more.
        """
        chan = self._chan
        accept, limit = chan._accept_data, chan._recv_pktsize

        def accept_data(data: bytes, datatype: int | None = None) -> None:
            if len(data) > limit:
                raise asyncssh.ProtocolError(
                    f"Channel data of {len(data)} bytes over the maximum packet size {limit}"
                )
            accept(data, datatype)

        chan._accept_data = accept_data

    def accepts(self, plain: bytes, pad: int) -> int:
        """The length of the data in ``plain`` (a decrypted CHANNEL_DATA for this channel
        with ``pad`` bytes of padding) if this path may deliver it, else 0."""
        chan = self._chan
        n = int.from_bytes(plain[6:10], "big")
        if (
            10 + n + pad != len(plain)
            or not 0 < n <= min(chan._recv_window, chan._recv_pktsize)
            or chan._recv_state != "open"
            or chan._send_state != "open"
            or chan._recv_paused
            or chan._recv_buf
        ):
            return 0
        return n

    def take(self, data: bytes) -> None:
        """Deliver data :meth:`accepts` allowed, once its packet is counted as read."""
        chan = self._chan
        chan._recv_window -= len(data)
        if chan._recv_window < chan._init_recv_window / 2:
            adjust = chan._init_recv_window - chan._recv_window
            chan.send_packet(MSG_CHANNEL_WINDOW_ADJUST, adjust.to_bytes(4, "big"))
            chan._recv_window = chan._init_recv_window
        self.fast_in += 1
        self._deliver(data)

    def quiet(self) -> bool:
        """This channel and its connection have nothing pending (see ConnectionFastPath)."""
        chan = self._chan
        return bool(
            self.enabled
            and self._owner.quiet()
            and chan._recv_state == "open"
            and chan._send_state == "open"
            and not chan._recv_paused
            and not chan._recv_buf
            and not chan._send_buf
            and chan._send_window > 0
            and chan._send_pktsize > 0
        )

    def keys(self) -> tuple[bytes, bytes, int]:
        """The connection's AES-GCM keys, in and out, and the largest packet asyncssh
        reads (for a native relay; the keys change with each key exchange)."""
        conn = self._conn
        recv, send = conn._recv_encryption._cipher, conn._send_encryption._cipher
        return recv._key, send._key, conn._max_recv_pktlen

    def hand_over(self) -> dict[str, Any]:
        """asyncssh's state for a native relay to carry on from (call when :meth:`quiet`)."""
        conn, chan = self._conn, self._chan
        return {
            "recv_iv": conn._recv_encryption._cipher._iv,
            "send_iv": conn._send_encryption._cipher._iv,
            "recv_seq": conn._recv_seq,
            "send_seq": conn._send_seq,
            "our_channel": chan._recv_chan,
            "peer_channel": chan._send_chan,
            "recv_window": chan._recv_window,
            "init_recv_window": chan._init_recv_window,
            "recv_pktsize": chan._recv_pktsize,
            # asyncssh does not bound the guest's window; the relay counts in 32 bits.
            "send_window": min(chan._send_window, _WINDOW_MAX),
            "send_pktsize": chan._send_pktsize,
            "rekey_sent": conn._rekey_bytes_sent,
            "rekey_limit": conn._rekey_bytes,
            "rekey_time": conn._rekey_time if conn._rekey_seconds else 0.0,
            "enchdrlen": conn._send_enchdrlen,
        }

    def take_back(
        self, recv_iv: bytes, send_iv: bytes, recv_seq: int, send_seq: int,
        recv_window: int, send_window: int, rekey_sent: int,
    ) -> None:  # fmt: skip
        """asyncssh's state as a native relay left it."""
        conn, chan = self._conn, self._chan
        conn._recv_encryption._cipher._iv = recv_iv
        conn._send_encryption._cipher._iv = send_iv
        conn._recv_seq, conn._send_seq = recv_seq, send_seq
        excess = max(0, chan._send_window - _WINDOW_MAX)  # what hand_over did not pass on
        chan._recv_window, chan._send_window = recv_window, send_window + excess
        conn._rekey_bytes_sent = rekey_sent

    @property
    def transport(self) -> Any:
        """asyncio's transport of the connection (a native relay pauses its reading)."""
        return self._conn._transport

    @property
    def transport_fd(self) -> int:
        sock = self._conn.get_extra_info("socket")
        return int(sock.fileno()) if sock is not None else -1

    @property
    def relays(self) -> list[Callable[[], None]]:
        """The connection's native relays' stop functions (see ConnectionFastPath)."""
        return self._owner.relays

    @property
    def alone(self) -> bool:
        """The only terminal of its connection: one native relay reads a socket."""
        return len(self._owner._channels) == 1

    def receive(self, data: bytes) -> None:
        """Bytes from the guest, as if just read from the socket."""
        self._conn.data_received(data)

    def send(self, data: bytes) -> None:
        conn, chan = self._conn, self._chan
        enc = conn._send_encryption
        cipher: Any = getattr(enc, "_cipher", None)
        aead = getattr(cipher, "_aead", None)
        n = len(data)
        if (
            not self.enabled
            or aead is None
            or chan._send_state != "open"
            or chan._send_buf
            or not 0 < n <= min(chan._send_window, chan._send_pktsize)
            or not conn._kex_complete
            or conn._compressor is not None
            or conn._rekey_bytes_sent >= conn._rekey_bytes
            or (conn._rekey_seconds and time.monotonic() >= conn._rekey_time)
            or conn._transport is None
        ):
            chan.write(data)
            return
        payload = b"%c%b%b%b" % (
            MSG_CHANNEL_DATA,
            chan._send_chan.to_bytes(4, "big"),
            n.to_bytes(4, "big"),
            data,
        )
        padlen = -(conn._send_enchdrlen + len(payload)) % conn._send_blocksize
        if padlen < 4:
            padlen += conn._send_blocksize
        packet = b"%c%b%b" % (padlen, payload, self._padding(padlen))
        header = len(packet).to_bytes(4, "big")
        sealed = aead.encrypt(cipher._iv, packet, header)
        cipher._update_iv()
        conn._send_seq = (conn._send_seq + 1) & 0xFFFFFFFF
        conn._rekey_bytes_sent += len(packet)
        chan._send_window -= n
        self.fast_out += 1
        conn._transport.write(header + sealed)

    def _padding(self, n: int) -> bytes:
        """Random padding, as asyncssh sends it, from a pool: one getrandom per ~200 packets."""
        if len(self._pool) < n:
            self._pool = os.urandom(4096)
        out, self._pool = self._pool[:n], self._pool[n:]
        return out


_WINDOW_MAX = 0xFFFFFFFF

_CONN_ATTRS = (
    "_recv_encryption", "_send_encryption", "_inpbuf", "_decompressor", "_compressor",
    "_recv_seq", "_send_seq", "_kex_complete", "_rekey_bytes_sent", "_rekey_bytes",
    "_rekey_seconds", "_rekey_time", "_transport", "_send_enchdrlen", "_send_blocksize",
    "_recv_handler", "_recv_pkthdr", "_max_recv_pktlen", "_deferred_packets",
)  # fmt: skip
_CHAN_ATTRS = (
    "_recv_chan", "_send_chan", "_recv_pktsize", "_recv_window", "_init_recv_window", "_recv_state",
    "_send_state", "_recv_paused", "_recv_buf", "_send_buf", "_send_window", "_send_pktsize",
    "_accept_data",
)  # fmt: skip
