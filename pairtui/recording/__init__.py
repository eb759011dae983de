"""Recording shares: what a view guest of the share saw, in the format asciinema plays.

- :mod:`pairtui.recording.cast` — asciicast v2, written and read in one place, and the
  file names and markers pairtui's recordings use.
- :mod:`pairtui.recording.recorder` — one recording: a read-only tmux client on the
  share's view session, on a PTY the size of the shared window.
- :mod:`pairtui.recording.recordings` — the serving engine's recordings, one per share:
  consent notices, markers from the engine's events, keys counted or kept.
- :mod:`pairtui.recording.catalog` — the recordings on disk, for listing and naming.
- :mod:`pairtui.recording.player` / ``player_keys`` — playing one on a terminal.
- :mod:`pairtui.recording.html` — a recording as one self-contained HTML page that plays
  it (asciinema-player, vendored in ``asciinema_player/``).
"""
