"""The tmux key binding that shares the current pane, and the lines that install it.

``pairtui tmux install`` binds the key on the running tmux server and keeps the same
lines in a marked block of ``~/.tmux.conf`` (replaced, never duplicated); ``uninstall``
removes exactly that. The TPM entry point ``pairtui.tmux`` runs ``install --live``.

A key that already does something else is the host's: install refuses it unless forced,
and then keeps the binding it replaced (in the ``@pairtui-replaced`` option, and in the
block so that it survives a tmux restart) for uninstall, or a move to another key, to
put back exactly. A config file install made is deleted by uninstall once nothing else
is in it.
"""

from __future__ import annotations

import os
import re
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
REPLACED_OPTION = "@pairtui-replaced"
CREATED = "# (made by pairtui: uninstall deletes this file when nothing else is left in it)"
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


def conf_lines(key: str, replaced: str | None = None) -> list[str]:
    """The block's lines; ``replaced`` is the host's binding of ``key`` that uninstall restores."""
    keep = [f"set-option -g {REPLACED_OPTION} {_tmux_quote(replaced)}"] if replaced else []
    return [*keep, _bind_line(key), _status_line()]


def _bind_line(key: str) -> str:
    return f"bind-key {key} run-shell -b {_tmux_quote(toggle_command())}"


def _status_line() -> str:
    return (
        f"if-shell -F '#{{m:*{STATUS_OPTION}*,#{{status-right}}}}' '' "
        f"{_tmux_quote('set-option -ga status-right ' + _tmux_quote(STATUS_SEGMENT))}"
    )


def _tmux_quote(text: str) -> str:
    """Quote for tmux's config parser: double quotes, with ``"``, ``\\`` and ``$`` escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


@dataclass(frozen=True)
class InstallResult:
    """What install or uninstall did.

    ``replaced``: the host's binding of the key that install replaced (``--force``) or
    uninstall put back, as ``list-keys`` prints it. ``deleted``: uninstall deleted the
    config file install had made.
    """

    key: str
    lines: list[str]
    live: bool
    config: Path | None
    changed: bool
    replaced: str | None = None
    deleted: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "lines": self.lines,
            "live": self.live,
            "config": str(self.config) if self.config else None,
            "changed": self.changed,
            "replaced": self.replaced,
            "deleted": self.deleted,
        }


class KeyTaken(PairtuiError):
    """The key already does something else on the running tmux server."""

    def __init__(self, key: str, row: str) -> None:
        super().__init__(
            f"prefix + {key} is already bound ({' '.join(row.split())}): choose another key "
            "with --key, or replace it with --force (uninstall puts it back)"
        )
        self.row = row


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


def install(tmux: Tmux | None, key: str, conf: Path | None, force: bool = False) -> InstallResult:
    """Bind on the running server (if any) and write the block into ``conf`` (if given).

    Raises:
        KeyTaken: ``key`` does something else on the running server and ``force`` is
            off; nothing changed.
    """
    if not key or any(ch.isspace() for ch in key):
        raise PairtuiError(f"invalid tmux key {key!r}")
    live = False
    replaced: str | None = None
    if tmux is not None and tmux.alive():
        replaced = _bind_live(tmux, key, force)
        tmux.source(_status_line() + "\n")
        live = True
    changed = False
    if conf is not None:
        conf = conf.resolve()  # keep a dotfiles symlink a symlink
        conf.parent.mkdir(parents=True, exist_ok=True)
        created = not conf.exists()
        old = read_text(conf)
        block = _block(old)
        if not live:  # nothing to ask: what the old block kept for this key still holds
            replaced = _kept(block, key)
        marks = [CREATED] if created or CREATED in block else []
        base = _without_block(old)
        lines = [BEGIN, *marks, *conf_lines(key, replaced), END]
        new = (base + ("\n" if base else "")) + "\n".join(lines) + "\n"
        if new != old:
            atomic_write(conf, new, mode=_mode_of(conf))
            changed = True
    return InstallResult(key, conf_lines(key, replaced), live, conf, changed, replaced)


def _bind_live(tmux: Tmux, key: str, force: bool) -> str | None:
    """Bind ``key`` on a running server; return the host's binding it replaced.

    Whether ``key`` is taken is read from what binding it changes, not from its name:
    tmux spells keys its own way (``f5`` is ``F5``). pairtui's earlier key (and what it
    had replaced) is put back first, so moving the key gives the old one back.
    """
    saved = tmux.global_option(REPLACED_OPTION)
    ours = [(bound, row) for bound, row in tmux.prefix_bindings() if MARK in row]
    _unbind_ours(tmux, ours, saved)
    before = _rows(tmux)
    tmux.source(_bind_line(key) + "\n")
    after = {_canonical(row) for row in _rows(tmux)}
    gone = [row for row in before if _canonical(row) not in after]
    replaced = gone[0] if gone else None
    if replaced and _canonical(replaced) != _canonical(saved) and not force:
        # As it was: the host's binding of this key, then pairtui's old key over its own.
        tmux.source("\n".join([replaced, *(row for _, row in ours)]) + "\n")
        tmux.set_global_option(REPLACED_OPTION, saved)
        raise KeyTaken(key, replaced)
    tmux.set_global_option(REPLACED_OPTION, replaced or "")
    return replaced


def _unbind_ours(tmux: Tmux, ours: list[tuple[str, str]], saved: str) -> None:
    """Unbind pairtui's keys and give back what the key had (if it is still pairtui's:
    a binding the host made over it since is the host's newer choice)."""
    for bound, _ in ours:
        tmux.unbind(bound)
    if saved and ours:
        tmux.source(saved + "\n")
    tmux.set_global_option(REPLACED_OPTION, "")


def _rows(tmux: Tmux) -> list[str]:
    return [row for _, row in tmux.prefix_bindings()]


_ROW = re.compile(r"(bind-key(?:\s+-\S+)*?\s+-T\s+\S+\s+\S+)\s+(.*)", re.DOTALL)


def _canonical(row: str) -> str:
    """A ``list-keys`` row without its padding, which follows the longest key name."""
    match = _ROW.fullmatch(row.strip())
    if match is None:
        return row.strip()
    return " ".join(match[1].split()) + " " + match[2]


def _block(text: str) -> list[str]:
    """The lines between BEGIN and END (empty when there is no block)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith(BEGIN.split(" (")[0]):
            inside = True
        elif inside and line.strip() == END:
            break
        elif inside:
            out.append(line)
    return out


def _kept(block: list[str], key: str) -> str | None:
    """The binding an old block kept for ``key`` (None if it bound another key)."""
    if not any(line.startswith(f"bind-key {key} ") for line in block):
        return None
    prefix = f"set-option -g {REPLACED_OPTION} "
    for line in block:
        if line.startswith(prefix):
            return _tmux_unquote(line.removeprefix(prefix))
    return None


def _tmux_unquote(text: str) -> str:
    """The inverse of :func:`_tmux_quote`."""
    inner = text[1:-1]
    out: list[str] = []
    escaped = False
    for ch in inner:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def uninstall(tmux: Tmux | None, conf: Path | None) -> InstallResult:
    """Remove the block and, on the running server, our binding and status segment,
    giving back the binding the key had before (if install replaced one)."""
    live = False
    key = DEFAULT_KEY
    restored: str | None = None
    if tmux is not None and tmux.alive():
        ours = [(bound, row) for bound, row in tmux.prefix_bindings() if MARK in row]
        key = ours[0][0] if ours else key
        saved = tmux.global_option(REPLACED_OPTION)
        _unbind_ours(tmux, ours, saved)
        restored = saved if saved and ours else None
        status = tmux.global_option("status-right")
        if STATUS_SEGMENT in status:
            tmux.set_global_option("status-right", status.replace(STATUS_SEGMENT, ""))
        live = True
    changed = deleted = False
    if conf is not None and conf.exists():
        conf = conf.resolve()
        old = read_text(conf)
        # A file without the block is not pairtui's to rewrite, not even its blank lines.
        new = _without_block(old) if _has_block(old) else old
        if CREATED in _block(old) and not new.strip():
            conf.unlink()
            changed = deleted = True
        elif new != old:
            atomic_write(conf, new, mode=_mode_of(conf))
            changed = True
    return InstallResult(key, [], live, conf, changed, restored, deleted)


def _has_block(text: str) -> bool:
    return any(line.startswith(BEGIN.split(" (")[0]) for line in text.splitlines())


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o644
