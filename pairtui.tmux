#!/usr/bin/env bash
# TPM entry point: `set -g @plugin '<owner>/pairtui'` binds prefix + P (or the key in
# @pairtui-key) to share / stop sharing the current pane: `pairtui tmux install --live`,
# which refuses a key that is already bound unless @pairtui-force is on.
#
# Which pairtui runs it: @pairtui-command when set; else the first `pairtui` on tmux's
# PATH, then on a login shell's PATH (tmux may have started before ~/.local/bin was on
# it), then where installs put it: ~/.local/bin or $XDG_BIN_HOME (scripts/start's
# launcher, pipx, uv tool), pipx's and uv's own venvs, this plugin's .venv, and last a
# python3 that can import pairtui. None found: tmux shows a message saying so.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
cd / # `python3 -m` would import a pairtui/ directory in the current one
key=$(tmux show-option -gqv @pairtui-key)
cmd=$(tmux show-option -gqv @pairtui-command)
force=$(tmux show-option -gqv @pairtui-force)

say() { tmux display-message "pairtui: ${1//\#/##}"; } # "#" would be a tmux format

installed() { [ -n "$1" ] && [ -f "$1" ] && [ -x "$1" ]; }

find_pairtui() {
    command -v pairtui 2>/dev/null && return 0
    local found data candidate
    found=$(timeout 5 "${SHELL:-/bin/sh}" -lc 'printf "\n%s\n" "$(command -v pairtui)"' \
        </dev/null 2>/dev/null | tail -n 1)
    if installed "$found"; then echo "$found" && return 0; fi
    data=${XDG_DATA_HOME:-$HOME/.local/share}
    for candidate in \
        "${XDG_BIN_HOME:-$HOME/.local/bin}/pairtui" \
        "$HOME/.local/bin/pairtui" \
        "${PIPX_BIN_DIR:+$PIPX_BIN_DIR/pairtui}" \
        "${UV_TOOL_BIN_DIR:+$UV_TOOL_BIN_DIR/pairtui}" \
        "${PIPX_HOME:-$data/pipx}/venvs/pairtui/bin/pairtui" \
        "$HOME/.local/pipx/venvs/pairtui/bin/pairtui" \
        "${UV_TOOL_DIR:-$data/uv/tools}/pairtui/bin/pairtui" \
        "$here/.venv/bin/pairtui"; do
        if installed "$candidate"; then echo "$candidate" && return 0; fi
    done
    if python3 -c 'import pairtui.cli' >/dev/null 2>&1; then
        echo "python3 -m pairtui" && return 0
    fi
    return 1
}

if [ -z "$cmd" ] && ! cmd=$(find_pairtui); then
    say "pairtui not found (looked on PATH, a login shell's PATH, ~/.local/bin, pipx, uv tool):\
 install it (see its README) or set @pairtui-command; prefix + ${key:-P} is not bound"
    exit 0
fi
flags=(tmux install --live --key "${key:-P}")
[ "$force" = on ] && flags+=(--force)
# A path with blanks is one word; "python3 -m pairtui" (or @pairtui-command) is several.
if installed "$cmd"; then argv=("$cmd"); else read -r -a argv <<<"$cmd"; fi
if ! out=$("${argv[@]}" "${flags[@]}" 2>&1 >/dev/null); then
    # Its reason first: the status line shows what fits.
    why=$(tail -n 1 <<<"$out")
    say "${why#pairtui: } (TPM: @pairtui-key, @pairtui-force on; ran $cmd tmux install)"
fi
