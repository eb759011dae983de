"""Recording shares: what a view guest of the share saw, in the format asciinema plays.

- :mod:`pairtui.recording.cast` — asciicast v2, written and read in one place, and the
  file names and markers pairtui's recordings use.
"""
