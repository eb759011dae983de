#!/usr/bin/env bash
# TPM entry point: `set -g @plugin '<owner>/pairtui'` binds prefix + P (or the key in
# @pairtui-key) to share / stop sharing the current pane. Needs pairtui on PATH
# (or @pairtui-command, e.g. "python3 -m pairtui").
set -eu
key=$(tmux show-option -gqv @pairtui-key)
cmd=$(tmux show-option -gqv @pairtui-command)
if [ -z "$cmd" ]; then
    if command -v pairtui >/dev/null 2>&1; then cmd=pairtui; else cmd="python3 -m pairtui"; fi
fi
# shellcheck disable=SC2086
$cmd tmux install --live --key "${key:-P}" >/dev/null 2>&1 \
    || tmux display-message "pairtui: could not install the key binding ($cmd tmux install)"
