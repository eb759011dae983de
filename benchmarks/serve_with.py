"""Run ``pairtui serve`` on another asyncio event loop, for the harness's experiments.

``python -m benchmarks.serve_with uvloop serve --port 0`` installs uvloop's policy and
then calls pairtui's own CLI, so pairtui itself is unchanged; only what ``asyncio.run``
creates differs.
"""

from __future__ import annotations

import asyncio
import sys


def main() -> int:
    loop, args = sys.argv[1], sys.argv[2:]
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("benchmarks: uvloop is not installed (.venv/bin/pip install uvloop)",
                  file=sys.stderr)  # fmt: skip
            return 2
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elif loop != "asyncio":
        print(f"benchmarks: unknown event loop {loop!r}", file=sys.stderr)
        return 2
    from pairtui.cli import main as pairtui_main

    return pairtui_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
