"""The busy pane of the load phase: a numbered line every INTERVAL seconds, forever.

Run as a script (``python -S -u printer.py 0.05``) inside tmux, so that every
connected guest receives a steady stream of screen updates while keys are measured.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
    filler = "abcdefghijklmnopqrstuvwxyz0123456789" * 2
    n = 0
    next_at = time.monotonic()
    while True:
        n += 1
        sys.stdout.write(f"{n:08d} {time.time():.3f} {filler[n % 36 : n % 36 + 50]}\n")
        next_at += interval
        time.sleep(max(next_at - time.monotonic(), 0))


if __name__ == "__main__":
    main()
