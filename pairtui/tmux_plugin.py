"""The tmux key binding that shares the current pane, and the lines that install it.

``pairtui tmux install`` binds the key on the running tmux server and keeps the same
lines in a marked block of ``~/.tmux.conf`` (replaced, never duplicated); ``uninstall``
removes exactly that. The TPM entry point ``pairtui.tmux`` runs ``install --live``.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, read_text
from pairtui.tmux import STATUS_OPTION, Tmux

DEFAULT_KEY = "P"
BEGIN = "# >>> pairtui >>> (managed by `pairtui tmux install`; `pairtui tmux uninstall` removes it)"
END = "# <<< pairtui <<<"
MARK = "pairtui share --toggle"
STATUS_SEGMENT = f"#{{?{STATUS_OPTION}, #[reverse] #{{{STATUS_OPTION}}} #[noreverse],}}"


def pairtui_command() -> list[str]:
    """How tmux should run this very pairtui (venvs and pipx included)."""
    return [sys.executable, "-m", "pairtui"]


def toggle_command() -> str:
    """The shell command the key runs; tmux expands the formats when the key is pressed."""
    argv = [*pairtui_command(), "share", "--toggle"]
    # run-shell expands formats in the whole command: a "#" in a path is written "##".
    return (
        shlex.join(argv).replace("#", "##")
        + " --pane '#{pane_id}' --tmux-socket '#{socket_path}' --client '#{client_tty}'"
    )


def conf_lines(key: str) -> list[str]:
    bind = f"bind-key {key} run-shell -b {_tmux_quote(toggle_command())}"
    status = (
        f"if-shell -F '#{{m:*{STATUS_OPTION}*,#{{status-right}}}}' '' "
        f"{_tmux_quote('set-option -ga status-right ' + _tmux_quote(STATUS_SEGMENT))}"
    )
    return [bind, status]


def _tmux_quote(text: str) -> str:
    """Quote for tmux's config parser: double quotes, with ``"``, ``\\`` and ``$`` escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


@dataclass(frozen=True)
class InstallResult:
    key: str
    lines: list[str]
    live: bool
    config: Path | None
    changed: bool

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "lines": self.lines,
            "live": self.live,
            "config": str(self.config) if self.config else None,
            "changed": self.changed,
        }


def default_conf() -> Path:
    home_conf = Path.home() / ".tmux.conf"
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tmux" / "tmux.conf"
    return xdg if xdg.exists() and not home_conf.exists() else home_conf


def _without_block(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(BEGIN.split(" (")[0]):
            skipping = True
            continue
        if skipping and line.strip() == END:
            skipping = False
            continue
        if not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + ("\n" if out else "")


def install(tmux: Tmux | None, key: str, conf: Path | None) -> InstallResult:
    """Bind on the running server (if any) and write the block into ``conf`` (if given)."""
    if not key or any(ch.isspace() for ch in key):
        raise PairtuiError(f"invalid tmux key {key!r}")
    lines = conf_lines(key)
    live = False
    if tmux is not None and tmux.alive():
        for old_key, row in tmux.prefix_bindings():
            if MARK in row and old_key != key:
                tmux.unbind(old_key)
        tmux.source("\n".join(lines) + "\n")
        live = True
    changed = False
    if conf is not None:
        conf = conf.resolve()  # keep a dotfiles symlink a symlink
        conf.parent.mkdir(parents=True, exist_ok=True)
        old = read_text(conf)
        base = _without_block(old)
        new = (base + ("\n" if base else "")) + "\n".join([BEGIN, *lines, END]) + "\n"
        if new != old:
            atomic_write(conf, new, mode=_mode_of(conf))
            changed = True
    return InstallResult(key, lines, live, conf, changed)


def uninstall(tmux: Tmux | None, conf: Path | None) -> InstallResult:
    """Remove the block and, on the running server, our binding and status segment."""
    live = False
    key = DEFAULT_KEY
    if tmux is not None and tmux.alive():
        for bound, row in tmux.prefix_bindings():
            if MARK in row:
                key = bound
                tmux.unbind(key)
        status = tmux.global_option("status-right")
        if STATUS_SEGMENT in status:
            tmux.set_global_option("status-right", status.replace(STATUS_SEGMENT, ""))
        live = True
    changed = False
    if conf is not None and conf.exists():
        conf = conf.resolve()
        old = read_text(conf)
        # A file without the block is not pairtui's to rewrite, not even its blank lines.
        new = _without_block(old) if _has_block(old) else old
        if new != old:
            atomic_write(conf, new, mode=_mode_of(conf))
            changed = True
    return InstallResult(key, [], live, conf, changed)


def _has_block(text: str) -> bool:
    return any(line.startswith(BEGIN.split(" (")[0]) for line in text.splitlines())


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o644
