"""Every tmux command line and format string pairtui uses lives here.

Guests never attach to a host session. Each share owns two tmux sessions, one per
mode, that contain exactly the shared windows (a session group for a whole-session
share, a linked window for a pane share). Those sessions use their own key tables
with the prefix disabled, so no default or host binding (``(``, ``)``, ``s``, ``w``,
``:``, ``D``, the mouse on the status line, ...) is reachable from a guest client.

Modes belong to a pane, not to a client, so the host can open one in a shared pane
that the guests' keys would then drive. Three guards keep guests confined (see
:meth:`Tmux._guard_commands`): a pair guest's key or mouse event reaches a pane only
while the pane is in no mode (or through copy mode's own table); a chooser (choose-tree,
choose-client, choose-buffer, customize-mode) opened in a pane guests can see is closed
before tmux draws it; and a guest client that lands outside its share is put back.

Over 400 lines: it is the one place for tmux commands (nothing else builds a tmux command
line or format), and the share sessions, the guards and the client calls are written
against each other's formats and hooks.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pairtui.errors import PairtuiError
from pairtui.printable import printable


def _import_libtmux() -> None:
    """libtmux reads ``sys.stdout.encoding`` once on import (and never uses it). In the
    dashboard the core loads after first paint, when sys.stdout is Textual's print
    capture, which has no encoding: give libtmux the real stdout for that one read."""
    if hasattr(sys.stdout, "encoding") or "libtmux" in sys.modules:
        return
    captured = sys.stdout
    sys.stdout = sys.__stdout__ or io.StringIO()
    try:
        import libtmux  # noqa: F401
    finally:
        sys.stdout = captured


_import_libtmux()

import libtmux  # noqa: E402
from libtmux import exc as tmux_exc  # noqa: E402

SESSION_PREFIX = "pairtui-"


class TmuxNotRunning(PairtuiError):
    """No tmux server answers on the socket (every other tmux error is a PairtuiError)."""


# What the engine keeps current for the host's status line: put #{@pairtui_status} in
# status-right. A hidden global environment variable, not an option (see tell_host).
STATUS_OPTION = "@pairtui_status"
FIELD_SEP = "\x1f"

# Keys a guest gets after the prefix. View guests are read-only clients, for which
# tmux runs only detach-client and switch-client bindings; the rest are for pair guests
# and act only inside the share's own session.
_VIEW_PREFIX_KEYS: list[tuple[str, str]] = [("d", "detach-client")]
_PAIR_PREFIX_KEYS: list[tuple[str, str]] = [
    ("d", "detach-client"),
    ("Up", "select-pane -U"),
    ("Down", "select-pane -D"),
    ("Left", "select-pane -L"),
    ("Right", "select-pane -R"),
    ("o", "select-pane -t :.+"),
    ("n", "next-window"),
    ("p", "previous-window"),
    ("z", "resize-pane -Z"),
    ("[", "copy-mode"),
    *[(str(i), f"select-window -t :={i}") for i in range(10)],
]

# A pair guest's key goes to its pane only while the pane is in no mode: tmux hands keys
# to a mode with the pressing client, so in a chooser they would switch, kill or run
# commands as that client. In copy mode the mode's own key table still applies first.
_NOT_IN_MODE = "#{?pane_in_mode,0,1}"
# That guard runs on every key a pair guest types, so it is bound in tmux's own syntax
# (through ``source-file``): a ``{ }`` block is parsed once, where a command given as an
# argument would be parsed again on each key (~18 µs of tmux's time per key).
_PAIR_KEY_GUARD = f"bind-key -T pairtui-pair Any if-shell -F '{_NOT_IN_MODE}' {{ send-keys }}\n"

# The mouse goes through the same guard. With ``mouse off`` tmux 3.3 hands a client's
# mouse event straight to the pane under it, past every key table, and a pane in a
# chooser acts on it as that client: a click in choose-tree's preview switched the
# guest's client at once (moving the host's session to the clicked window on the way),
# a right click opened the chooser's menu, titled with a session or buffer name, on the
# guest's terminal, and a click that expanded a session read a tree item the expansion
# had just freed (tmux 3.3's window_tree_key; 3.4 fixed it in 9360e0ef3): now and then
# the host's whole tmux server exited ("fatal: bad index"). So pair sessions have
# ``mouse on``: every mouse event is a key looked up in the guest's table, where these
# bindings pass the events a pane's program can use (``send-keys -M``: tmux gives them
# to the program only if it asked for the mouse) and ``Any`` drops the rest (a plain
# ``send-keys`` has no mouse event to send). A left press also selects the pane under
# it, as tmux's own binding does. The price: tmux then asks a pair guest's terminal for
# the mouse all the time, so selecting text there takes Shift (as with any tmux that has
# ``mouse on``). View sessions keep ``mouse off``: tmux drops a read-only client's mouse
# before anything else.
_MOUSE_KEYS = [
    *(f"{kind}{button}Pane" for kind in ("MouseDown", "MouseUp", "MouseDrag", "MouseDragEnd",
                                         "SecondClick", "TripleClick") for button in (1, 2, 3)),
    "WheelUpPane", "WheelDownPane",  # (tmux 3.3 cannot bind MouseMovePane: hover is lost)
]  # fmt: skip
_SELECTS = ("MouseDown1Pane", "SecondClick1Pane", "TripleClick1Pane")  # a left press
_MOUSE = {"view": "off", "pair": "on"}  # each guest session's ``mouse`` option
_PAIR_MOUSE_GUARD = "".join(
    f"bind-key -T pairtui-pair {mods}{key} if-shell -F '{_NOT_IN_MODE}' "
    f"{{ {'select-pane -t = ; ' if key in _SELECTS else ''}send-keys -M }}\n"
    for mods in ("", "C-", "M-", "C-M-")
    for key in _MOUSE_KEYS
)

# tmux redraws a client's status line after every bound key, and the guard above binds
# every key. With the default status-format (ranges, list markers, a style test per
# window) a guarded key cost tmux ~480k instructions; this one keeps what guests see
# (pairtui's left and right, the host's window formats, styles and separator) for
# ~224k, against ~30k for an unbound key (benchmarks/tmux_cost).
_GUEST_STATUS_FORMAT = (
    "#[align=left]#{T:status-left}"
    "#{W:"
    "#[#{E:window-status-style}]#{T:window-status-format}#[default]"
    "#{?window_end_flag,,#{window-status-separator}},"
    "#[#{E:window-status-current-style}]#{T:window-status-current-format}#[default]"
    "#{?window_end_flag,,#{window-status-separator}}"
    "}"
    "#[align=right]#{T:status-right}"
)

# A guest whose terminal is smaller than the host's window sees part of it (tmux follows
# the cursor): its status line says so while it lasts, last on the line, which tmux
# trims from the left when it is too long. The status line takes a row of the guest's
# terminal. tmux's own ``window_bigger`` tells (one lookup): comparing the sizes in the
# format took a quarter of the guest status line's cost, which tmux pays on every key a
# pair guest types (see _GUEST_STATUS_FORMAT). Named bare in the condition
# (``#{?window_bigger,…}``), not as ``#{?#{window_bigger},…}``: the nested expansion cost
# another ~10k of tmux's instructions per key (benchmarks/tmux_cost).
_ROWS_SEEN = "#{e|-:#{client_height},1}"
_CROPPED = "window_bigger"
_SEEN = "you see #{client_width}x" + _ROWS_SEEN + " of #{window_width}x#{window_height}"

# The hooks pairtui adds to the host's server use this index of each hook array, so the
# host's own hooks (index 0, or any other) stay as they are.
GUARD_INDEX = 4242

# Modes that list or act on what is outside the share, by the command that opens them.
_CHOOSERS = {
    "tree-mode": "choose-tree",
    "client-mode": "choose-client",
    "buffer-mode": "choose-buffer",
    "options-mode": "customize-mode",
}
_IN_CHOOSER = (
    "#{m/r:^(" + "|".join(m.removesuffix("-mode") for m in _CHOOSERS) + ")-mode$,#{pane_mode}}"
)


@functools.cache
def tmux_binary() -> str:
    path = shutil.which("tmux")
    if path is None:
        raise PairtuiError("tmux is not installed (install it, e.g. `apt-get install tmux`)")
    return path


def resolve_socket(explicit: str | None = None, env: dict[str, str] | None = None) -> Path:
    """The host's tmux server: ``--tmux-socket``, else ``$TMUX``, else the default socket.

    An explicit value without a slash is a socket name, as with ``tmux -L``.
    """
    env = dict(os.environ) if env is None else env
    base = Path(env.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
    if explicit:
        return Path(explicit) if "/" in explicit else base / explicit
    if env.get("TMUX"):
        return Path(env["TMUX"].split(",", 1)[0])
    return base / "default"


@dataclass(frozen=True)
class TmuxClient:
    tty: str
    session: str
    pid: int
    readonly: bool
    width: int
    height: int
    user: str = ""
    created: int = 0  # epoch seconds
    activity: int = 0


@dataclass(frozen=True)
class HostWindow:
    """A window of a host session, as the dashboard offers it for sharing."""

    session: str
    id: str  # "@3": stays the same when the window is renamed or moved
    index: int
    name: str
    pane: str  # its active pane; sharing a pane shares its window

    @property
    def label(self) -> str:
        """How tmux users name it: ``work:2 (vim)``."""
        return f"{self.session}:{self.index} ({self.name})"


@dataclass(frozen=True)
class ShareSessions:
    """The two guest sessions of one share."""

    view: str
    pair: str

    def for_mode(self, pair: bool) -> str:
        return self.pair if pair else self.view


def share_sessions(share_name: str) -> ShareSessions:
    return ShareSessions(
        view=f"{SESSION_PREFIX}{share_name}-view", pair=f"{SESSION_PREFIX}{share_name}-pair"
    )


def share_of_session(session: str) -> tuple[str, str] | None:
    """``pairtui-SHARE-view`` -> ``("SHARE", "view")``; None for any other session."""
    if not session.startswith(SESSION_PREFIX):
        return None
    base, _, mode = session.removeprefix(SESSION_PREFIX).rpartition("-")
    return (base, mode) if base and mode in ("view", "pair") else None


class Tmux:
    """One tmux server, addressed by socket path; all calls go through :meth:`run`."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self._server = libtmux.Server(socket_path=str(socket), tmux_bin=tmux_binary())

    def _run(self, *args: str) -> list[str]:
        """Run one tmux command (or several joined by ``;``); raise a readable error.

        Private: every tmux command line pairtui runs is built in this module.
        """
        try:
            res = self._server.cmd(*args)
        except tmux_exc.LibTmuxException as exc:
            raise PairtuiError(f"tmux failed: {exc}") from None
        if res.returncode != 0:
            err = " ".join(res.stderr).strip()
            if "no server running" in err or "error connecting" in err:
                raise TmuxNotRunning(
                    f"tmux is not running on {self.socket} "
                    "(start tmux first, or pass --tmux-socket)"
                )
            raise PairtuiError(f"tmux {args[0]}: {err or 'failed'}")
        return list(res.stdout)

    def source(self, text: str) -> None:
        """Run ``text`` as a tmux configuration file (its ``{ }`` blocks parsed once).

        Only pairtui's own text goes here, and the host's own bindings as ``list-keys``
        printed them (``tmux install`` puts back a binding it replaced): never anything
        a guest sent."""
        try:
            res = subprocess.run(
                [tmux_binary(), "-S", str(self.socket), "source-file", "-"],
                input=text, capture_output=True, text=True, timeout=10, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PairtuiError(f"tmux failed: {exc}") from None
        if res.returncode != 0:
            raise PairtuiError(f"tmux source-file: {res.stderr.strip() or 'failed'}")

    def alive(self) -> bool:
        try:
            self._run("display-message", "-p", "ok")
        except PairtuiError:
            return False
        return True

    def has_session(self, name: str) -> bool:
        try:
            self._run("has-session", "-t", f"={name}")
        except PairtuiError:
            return False
        return True

    def current_session(self) -> str:
        """The session of the pane pairtui runs in, else the most recently used one."""
        pane = os.environ.get("TMUX_PANE")
        if pane and os.environ.get("TMUX", "").split(",", 1)[0] == str(self.socket):
            with contextlib.suppress(PairtuiError):
                name = self._run("display-message", "-p", "-t", pane, "#{session_name}")[0]
                if not name.startswith(SESSION_PREFIX):
                    return name
        rows = self._run(
            "list-sessions", "-F", f"#{{session_activity}}{FIELD_SEP}#{{session_name}}"
        )
        hosts = [r.split(FIELD_SEP, 1) for r in rows]
        hosts = [h for h in hosts if not h[1].startswith(SESSION_PREFIX)]
        if not hosts:
            raise PairtuiError("tmux has no session to share")
        return max(hosts, key=lambda h: int(h[0]))[1]

    def host_windows(self) -> list[HostWindow]:
        """Every window of the host's sessions, in session then window order."""
        fmt = FIELD_SEP.join(
            "#{" + f + "}"
            for f in ("session_name", "window_id", "window_index", "window_name", "pane_id")
        )
        out = []
        for row in self._run("list-windows", "-a", "-F", fmt):
            session, wid, index, rest = row.split(FIELD_SEP, 3)
            name, pane = rest.rsplit(FIELD_SEP, 1)  # a window name may hold anything
            if not session.startswith(SESSION_PREFIX):
                out.append(HostWindow(session, wid, int(index), name, pane))
        return out

    def window_of_pane(self, pane_id: str) -> tuple[str, str]:
        """``(window_id, session_name)`` of a pane such as ``%3``."""
        try:
            out = self._run(
                "display-message",
                "-p",
                "-t",
                pane_id,
                f"#{{window_id}}{FIELD_SEP}#{{session_name}}",
            )
        except TmuxNotRunning:
            raise
        except PairtuiError:
            raise PairtuiError(f"no tmux pane {pane_id}") from None
        window, session = out[0].split(FIELD_SEP, 1)
        return window, session

    def global_prefix(self) -> str:
        return self._run("show-options", "-gv", "prefix")[0].strip() or "C-b"

    # --- share sessions -------------------------------------------------------

    def _bind_guest_tables(self, prefix: str) -> list[str]:
        cmds: list[list[str]] = []
        for mode, keys in (("view", _VIEW_PREFIX_KEYS), ("pair", _PAIR_PREFIX_KEYS)):
            root, pre = f"pairtui-{mode}", f"pairtui-{mode}-prefix"
            cmds.append(["bind-key", "-T", root, prefix, "switch-client", "-T", pre])
            for key, command in keys:
                cmds.append(["bind-key", "-T", pre, key, *shlex.split(command)])
            if mode == "pair":
                cmds += [
                    # (The Any key of the root table: _PAIR_KEY_GUARD.)
                    ["bind-key", "-T", pre, prefix, "if-shell", "-F", _NOT_IN_MODE,
                     "send-prefix"],
                    # As before the Any key above: prefix + an unbound key does nothing.
                    ["bind-key", "-T", pre, "Any", "switch-client", "-T", root],
                ]  # fmt: skip
        return _chain(cmds)

    def _guard_commands(self) -> list[list[str]]:
        """The server-wide hooks that keep guests in their shares (idempotent).

        They run from tmux's command queue in the same pass as what triggered them, before
        tmux redraws any client or reads more input:

        - ``pane-mode-changed``: a chooser opened in a pane of a window linked into a guest
          session is closed at once (``copy-mode -q`` leaves every mode) and the host is
          told why. Guests never see it; their keys could not act in it anyway. (The
          notification is queued when the mode opens, so a hook alone would come too late
          for guest keys read in the same pass: hence the key guard.)
        - ``client-session-changed``: a client whose previous session was a guest session
          and whose new one is not of the same share goes back (``switch-client -l``), or
          is detached if that fails. tmux gives such a hook no client of its own: its
          "current client" is the most recently active one of the new session, which is
          the moved guest whenever the guest's own keys moved it or nobody else there is
          more recent. Hook arguments are not format-expanded (only ``run-shell -C``
          does, one event-loop pass later), so no other client can be named in time.
        """
        shown = f"#{{m/r:(^|#,){SESSION_PREFIX},#{{window_linked_sessions_list}}}}"
        label = "#{pane_mode}"
        for mode, command in reversed(_CHOOSERS.items()):
            label = f"#{{?#{{==:#{{pane_mode}},{mode}}},{command},{label}}}"
        message = f"pairtui: {label} closed: guests can see this pane"
        # The message goes to tmux's current client, the host's when the host's keys
        # opened the chooser; never to a guest, for whom it is noise.
        to_host = f"#{{?#{{m/r:^{SESSION_PREFIX},#{{client_session}}}},0,1}}"
        close = (
            f"if-shell -F '{_and(_IN_CHOOSER, shown)}' {{ "
            f"if-shell -F '{to_host}' {{ display-message -d 4000 '{message}' }} ; copy-mode -q }}"
        )
        last, now = "#{client_last_session}", "#{client_session}"
        guest = SESSION_PREFIX + ".+-(view|pair)$"
        moved = _and(
            "#{==:#{client_name},#{hook_client}}",
            _and(
                f"#{{m/r:^{guest},{last}}}",
                _and(
                    f"#{{!=:{now},#{{s/-(view|pair)$/-view/:client_last_session}}}}",
                    f"#{{!=:{now},#{{s/-(view|pair)$/-pair/:client_last_session}}}}",
                ),
            ),
        )
        i = GUARD_INDEX
        return [
            ["set-hook", "-gw", f"pane-mode-changed[{i}]", close],
            ["set-hook", "-g", f"client-session-changed[{i}]",
             f"if-shell -F '{moved}' 'switch-client -l'"],
            ["set-hook", "-g", f"client-session-changed[{i + 1}]",
             f"if-shell -F '{moved}' 'detach-client'"],
        ]  # fmt: skip

    def _remove_guards(self) -> None:
        """Take the hooks away once no guest session is left (they would be harmless)."""
        try:
            names = self._run("list-sessions", "-F", "#{session_name}")
        except PairtuiError:  # no session left: the server has exited with its hooks
            return
        if any(n.startswith(SESSION_PREFIX) for n in names):
            return
        i = GUARD_INDEX
        self._run(
            "set-hook", "-gwu", f"pane-mode-changed[{i}]", ";",
            "set-hook", "-gu", f"client-session-changed[{i}]", ";",
            "set-hook", "-gu", f"client-session-changed[{i + 1}]",
        )  # fmt: skip

    def _close_choosers(self, panes: list[str]) -> list[list[str]]:
        """Close a chooser the host left open in a pane before sharing it."""
        return [["if-shell", "-F", "-t", p, _IN_CHOOSER, f"copy-mode -q -t {p}"] for p in panes]

    def _session_options(
        self, session: str, mode: str, host: str, share: str, prefix: str
    ) -> list[list[str]]:
        t = ["-t", f"={session}:"]
        leave = f"{prefix} d to leave" + ("" if mode == "view" else f", {prefix} arrows: panes")
        full = f" #[bold]{mode}#[nobold] · {share} shared by {host} · {leave} "
        cropped = f" #[bold]{mode}#[nobold] · {prefix} d to leave · #[reverse] {_SEEN} #[noreverse]"
        status = "#{?" + _CROPPED + "," + cropped + "," + _escape_commas(full) + "}"
        opts = {
            "key-table": f"pairtui-{mode}",
            "prefix": "None",
            "prefix2": "None",
            "mouse": _MOUSE[mode],  # see _PAIR_MOUSE_GUARD
            # Paste detection would hand fast input to the pane past the key table.
            "assume-paste-time": "0",
            "destroy-unattached": "off",
            "detach-on-destroy": "on",
            "lock-after-time": "0",
            "status": "on",
            "status-left": "[pairtui] ",
            "status-left-length": "12",
            "status-right": status,
            "status-right-length": str(len(full) + 20),
            "status-format[0]": _GUEST_STATUS_FORMAT,
        }
        return [["set-option", *t, name, value] for name, value in opts.items()]

    def create_share(
        self, share: str, *, session: str | None = None, window: str | None = None, host: str
    ) -> ShareSessions:
        """Create the guest sessions for a whole session or for one window."""
        names = share_sessions(share)
        for name in (names.view, names.pair):
            if self.has_session(name):
                self._run("kill-session", "-t", f"={name}")
        prefix = self.global_prefix()
        # Guards first: a chooser opened once the windows are linked is closed by the hook.
        self._install_guards()
        cmds: list[list[str]] = []
        placeholders: list[str] = []
        for mode, name in (("view", names.view), ("pair", names.pair)):
            if session is not None:
                self._run(*self._grouped_session(name, session))
            else:
                assert window is not None
                placeholders.append(
                    self._run(
                        "new-session",
                        "-d",
                        "-s",
                        name,
                        "-P",
                        "-F",
                        "#{window_id}",
                        "sleep 2147483647",
                    )[0]
                )
                cmds.append(["link-window", "-d", "-s", window, "-t", f"={name}:"])
            cmds += self._session_options(name, mode, host, share, prefix)
        cmds += [["kill-window", "-t", w] for w in placeholders]
        panes = (
            self._run("list-panes", "-s", "-t", f"={session}", "-F", "#{pane_id}")
            if session is not None
            else self._run("list-panes", "-t", str(window), "-F", "#{pane_id}")
        )
        cmds += self._close_choosers(panes)
        self._run(*_chain(cmds), ";", *self._bind_guest_tables(prefix))
        return names

    def _install_guards(self, *extra: list[str]) -> None:
        """The server-wide guards every share relies on (the hooks, and the pair table's
        key and mouse bindings), with ``extra`` commands in the same tmux call."""
        self._run(*_chain([*self._guard_commands(), *extra]))
        self.source(_PAIR_KEY_GUARD + _PAIR_MOUSE_GUARD)

    def renew_guards(self, pair_sessions: list[str]) -> None:
        """Put today's guards on shares made by an older pairtui: tmux outlives pairtui,
        so a share's sessions keep the options and bindings they were made with (pair
        sessions made before the mouse guard have ``mouse off``: see _PAIR_MOUSE_GUARD).
        Once per tmux server, for the given pair sessions that still exist; idempotent.
        The engine runs it for every share when it starts."""
        live = set(self._run("list-sessions", "-F", "#{session_name}"))
        mouse = [["set-option", "-t", f"={s}:", "mouse", _MOUSE["pair"]]
                 for s in pair_sessions if s in live]  # fmt: skip
        if mouse:
            self._install_guards(*mouse)

    def _grouped_session(self, name: str, session: str) -> list[str]:
        """``new-session -t``, working around tmux 3.3a, whose server crashes creating a
        session group while the global ``window-size`` is ``manual``: that option is
        lifted for the one command and put back in the same command sequence."""
        new = ["new-session", "-d", "-s", name, "-t", f"={session}"]
        size = self._run("show-options", "-gv", "window-size")
        if size and size[0].strip() == "manual":
            return ["set-option", "-g", "window-size", "latest", ";", *new, ";",
                    "set-option", "-g", "window-size", "manual"]  # fmt: skip
        return new

    def rename_share(self, old: str, new: str, host: str) -> ShareSessions:
        """Rename a share's guest sessions in place: attached guests stay attached."""
        before, after = share_sessions(old), share_sessions(new)
        prefix = self.global_prefix()
        cmds: list[list[str]] = []
        for mode, was, now in (
            ("view", before.view, after.view),
            ("pair", before.pair, after.pair),
        ):
            cmds.append(["rename-session", "-t", f"={was}", now])
            # Only the status line names the share.
            cmds += [c for c in self._session_options(now, mode, host, new, prefix)
                     if c[3].startswith("status-right")]  # fmt: skip
        self._run(*_chain(cmds))
        return after

    def kill_share(self, share: str) -> None:
        names = share_sessions(share)
        for name in (names.view, names.pair):
            if self.has_session(name):
                self._run("kill-session", "-t", f"={name}")
        self._remove_guards()

    def window_size(self, session: str) -> tuple[int, int] | None:
        """``(columns, rows)`` of a session's current window; None if it is gone."""
        try:
            out = self._run("display-message", "-p", "-t", f"={session}:",
                            "#{window_width} #{window_height}")  # fmt: skip
        except PairtuiError:
            return None
        cols, rows = out[0].split()
        return int(cols), int(rows)

    def mark_recording(self, share: str, on: bool) -> None:
        """The share's guests see whether it is recorded, in their status line's left."""
        left = "[pairtui] #[reverse] REC #[noreverse] " if on else "[pairtui] "
        names = share_sessions(share)
        cmds = [["set-option", "-t", f"={name}:", "status-left", left]
                for name in (names.view, names.pair) if self.has_session(name)]  # fmt: skip
        cmds += [["set-option", "-t", f"={name}:", "status-left-length", "20"]
                 for name in (names.view, names.pair) if self.has_session(name)]  # fmt: skip
        if cmds:
            self._run(*_chain(cmds))

    def attach_argv(self, session: str, readonly: bool) -> list[str]:
        flags = "read-only,ignore-size" if readonly else "ignore-size"
        return [tmux_binary(), "-u", "-S", str(self.socket), "attach-session",
                "-t", f"={session}", "-f", flags]  # fmt: skip

    # --- clients --------------------------------------------------------------

    def clients(self) -> list[TmuxClient]:
        fmt = FIELD_SEP.join(
            "#{" + f + "}"
            for f in ("client_tty", "session_name", "client_pid", "client_readonly",
                      "client_width", "client_height", "client_user", "client_created",
                      "client_activity")
        )  # fmt: skip
        try:
            rows = self._run("list-clients", "-F", fmt)
        except PairtuiError:
            return []
        out = []
        for row in rows:
            tty, sess, pid, ro, w, h, user, created, activity = row.split(FIELD_SEP)
            out.append(
                TmuxClient(tty, sess, int(pid), ro == "1", int(w), int(h), user,
                           int(created or 0), int(activity or 0))
            )  # fmt: skip
        return out

    def set_client_mode(self, tty: str, session: str, readonly: bool) -> None:
        """Move a live guest client between a share's view and pair sessions.

        Towards view it is one command sequence that cannot go wrong whatever state the
        client is in: ``refresh-client -f read-only`` sets the flag. tmux 3.3 cannot clear
        it that way, so towards pair ``switch-client -r`` toggles it (and ignore-size,
        which is put back), after reading the client's own row of ``list-clients``
        (``display-message -c`` expands formats for *another* client when this one is
        in another session: a toggle on that answer went the wrong way). Calls for one
        client must not overlap (:class:`pairtui.guest_ssh.GuestSession` serialises
        them); a pair client left read-only is found and corrected by the next call.
        """
        if readonly:
            self._run(
                "switch-client", "-c", tty, "-t", f"={session}", ";",
                "refresh-client", "-t", tty, "-f", "read-only,ignore-size",
            )  # fmt: skip
            return
        now = next((c for c in self.clients() if c.tty == tty), None)
        if now is None:
            raise PairtuiError(f"no tmux client {tty}")
        toggle = ["-r"] if now.readonly else []
        self._run(
            "switch-client", "-c", tty, "-t", f"={session}", *toggle, ";",
            "refresh-client", "-t", tty, "-f", "ignore-size",
        )  # fmt: skip

    def detach_client(self, tty: str) -> None:
        self._run("detach-client", "-t", tty)

    def display_message(
        self, text: str, client: str | None = None, duration_ms: int | None = None
    ) -> None:
        args = ["display-message"]
        if client:
            args += ["-c", client]
        if duration_ms is not None:
            args += ["-d", str(duration_ms)]
        self._run(*args, _message(text))

    # --- the host's side: messages, status, bindings, buffers ---------------------------

    def host_clients(self) -> list[TmuxClient]:
        return [c for c in self.clients() if not c.session.startswith(SESSION_PREFIX)]

    def tell_host(self, text: str, status: str | None = None) -> None:
        """Show ``text`` on every host client and keep ``#{@pairtui_status}`` current.

        One tmux call: this runs for every batch of joins and leaves. The status goes in
        a hidden global environment variable, which formats read when no option of that
        name is set: setting an option makes tmux redraw every client, each guest's
        whole screen included, where the environment redraws nothing and the host's
        clients alone get their status line refreshed.
        """
        hosts = self.host_clients()
        cmds: list[list[str]] = []
        if status is not None:
            cmds.append(
                ["set-environment", "-gh", STATUS_OPTION, status]
                if status
                else ["set-environment", "-gu", STATUS_OPTION]
            )
            cmds += [["refresh-client", "-S", "-t", c.tty] for c in hosts]
        if text:
            cmds += [["display-message", "-c", c.tty, _message(text)] for c in hosts]
        if cmds:
            self._run(*_chain(cmds))

    def ask_host(self, title: str, choices: list[tuple[str, str, str]]) -> None:
        """A menu on every host client: ``(label, code, shell command)`` per choice.

        The menu opens unasked, over whatever the host is typing, so nothing typed by
        chance may decide: the first item, selected when it opens, does nothing (Enter
        chooses it), no item has a key of its own, and a choice with a ``code`` runs
        only once the host has typed that code (read out by the guest) at a prompt;
        ``%1`` in its command is what was typed. ``display-menu`` waits until the menu
        closes, so it is started through ``run-shell -b -C`` and this returns at once.
        A choice runs its command in the background and shows its one-line answer.

        The title (where the guest came from, which a relay reports) is expanded as a
        format twice, by ``run-shell -C`` and by ``display-menu``: its ``#`` are doubled
        twice, so a ``#(...)`` from a relay stays text.
        """
        items = ["Not now (pairtui knocks)", "", ""]
        for label, code, command in choices:
            # The answer may name where the guest came from: its # doubled (octal 043,
            # so that no # is in a command tmux expands on the way).
            shell = (
                f"h=$(printf \\\\043); out=$({command} 2>&1); "
                'tmux display-message -- "$(printf %s "$out" | sed "s/$h/$h$h/g")"'
            )
            run = f"run-shell -b {shlex.quote(shell)}"
            if code:
                prompt = f"Type the code the guest reads you ({code}); Escape: not now: "
                run = f"command-prompt -p {shlex.quote(prompt)} {shlex.quote(run)}"
            items += [_message(label), "", run]
        shown = _message(title).replace("#", "##")
        cmds = [["run-shell", "-b", "-C", shlex.join(
                    ["display-menu", "-c", c.tty, "-T", shown, *items])]
                for c in self.host_clients()]  # fmt: skip
        if cmds:
            self._run(*_chain(cmds))

    def status(self) -> str:
        """What ``#{@pairtui_status}`` shows in the host's status line now."""
        return "".join(self._run("display-message", "-p", f"#{{{STATUS_OPTION}}}"))

    def clear_status_option(self) -> None:
        """Drop a ``@pairtui_status`` *option* left by an older pairtui, which would
        hide the environment variable :meth:`tell_host` keeps (one redraw, if any)."""
        if self._run("show-options", "-gq", STATUS_OPTION):
            self._run("set-option", "-gqu", STATUS_OPTION)

    def global_option(self, name: str) -> str:
        """A global (server or session) option's value, "" when unset."""
        return "".join(self._run("show-options", "-gqv", name))

    def set_global_option(self, name: str, value: str) -> None:
        self._run("set-option", "-g", name, value)

    def window_index(self, pane_id: str) -> int:
        """The index of the window holding pane ``%N`` in its session."""
        return int(self._run("display-message", "-p", "-t", pane_id, "#{window_index}")[0])

    def select_pane(self, pane_id: str) -> None:
        self._run("select-pane", "-t", pane_id)

    def set_status(self, status: str) -> None:
        self.tell_host("", status)

    def copy_to_buffer(self, text: str) -> None:
        """Into a tmux paste buffer and, where tmux may (set-clipboard), the clipboard of
        each of the host's own clients. Never ``set-buffer -w`` with no client: tmux then
        picks the most recently active one, which may be a guest's terminal, and an
        invitation's line (its token) would land in a guest's clipboard."""
        cmds = [["set-buffer", "-b", "pairtui", text]]
        cmds += [["set-buffer", "-w", "-t", c.tty, "-b", "pairtui", text]
                 for c in self.host_clients()]  # fmt: skip
        self._run(*_chain(cmds))

    def prefix_bindings(self) -> list[tuple[str, str]]:
        """``(key, row)`` for each binding of the prefix table, as ``list-keys`` prints it."""
        rows = self._run("list-keys", "-T", "prefix")
        return [(key, row) for row in rows if (key := _bound_key(row))]

    def unbind(self, key: str, table: str = "prefix") -> None:
        self._run("unbind-key", "-T", table, key)

    # --- system guests: other Unix users on this server (tmux >= 3.3) ---------------------

    def server_access(self) -> dict[str, bool]:
        """``server-access -l``: user name -> read-only (the server's owner is not listed)."""
        out: dict[str, bool] = {}
        for row in self._run("server-access", "-l"):
            name, _, flag = row.strip().rpartition(" ")
            if name:
                out[name] = flag == "(R)"
        return out

    def allow_writer(self, user: str) -> None:
        """``server-access -w``: let Unix ``user`` attach and type (added if missing).

        It frees *every* client of that user, read-only ones included: call it only
        while the user has no client tmux still serves (see ``system.sync._grant_access``).
        """
        self._run("server-access", "-w", user)

    def deny_user(self, user: str) -> bool:
        """``server-access -d``: the user's clients exit. False when it had no access."""
        try:
            self._run("server-access", "-d", user)
        except PairtuiError as exc:
            if "not found" in str(exc):
                return False
            raise
        return True


def _message(text: str) -> str:
    """A message shows as written: a guest's words in it (a name, where it came from) are
    escaped (tmux drops ESC itself, not bidi overrides), ``#`` is not a tmux format, and
    a final ``;`` does not end the tmux command."""
    shown = printable(text).replace("#", "##")
    return shown[:-1] + "\\;" if shown.endswith(";") else shown


def _and(left: str, right: str) -> str:
    return f"#{{&&:{left},{right}}}"


def _bound_key(row: str) -> str:
    """The key of a ``list-keys`` row: the word after ``-T TABLE``, whatever flags
    (``-r``, ``-N note``) come first; "" for a row that is not a binding."""
    words = row.split()
    for i, word in enumerate(words[:-2]):
        if word == "-T":
            return words[i + 2]
    return ""


def _escape_commas(text: str) -> str:
    """``text`` inside a format conditional, where a plain comma ends the branch."""
    return text.replace(",", "#,")


def _chain(cmds: list[list[str]]) -> list[str]:
    out: list[str] = []
    for cmd in cmds:
        if out:
            out.append(";")
        out.extend(cmd)
    return out


SERVER_ACCESS_VERSION = (3, 3)


def tmux_version() -> tuple[tuple[int, int], str]:
    """The installed tmux's version, e.g. ``((3, 3), "3.3a")``.

    Builds without a number (``master``, ``next-3.6``) count as new.
    """
    res = subprocess.run(
        [tmux_binary(), "-V"], capture_output=True, text=True, timeout=10, check=False
    )
    text = res.stdout.strip().removeprefix("tmux ").strip()
    m = re.match(r"([0-9]+)\.([0-9]+)", text)
    if m is None:
        return (99, 0), text or "unknown"
    return (int(m[1]), int(m[2])), text


def require_server_access() -> str:
    """The tmux version string; a clear error when it predates ``server-access``."""
    version, text = tmux_version()
    if version < SERVER_ACCESS_VERSION:
        raise PairtuiError(
            f"tmux {text} is too old for system guests: they need tmux 3.3 or newer, whose "
            "server-access command lets another Unix user attach to your tmux server "
            "(older tmux has no per-user access control; upgrade tmux, or use `pairtui serve`)"
        )
    return text
