"""`pairtui recordings` (list, export) and `pairtui play`: the recordings of shares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pairtui import paths
from pairtui.cli.common import Adder, UsageError, print_json
from pairtui.cli.table import table
from pairtui.durations import duration
from pairtui.printable import printable
from pairtui.sizes import size

HEADER = ("SHARE", "STARTED", "DURATION", "SIZE", "INPUT", "NAME", "GUESTS")


def cmd_recordings(args: argparse.Namespace) -> int:
    from pairtui.recording import catalog

    directory = paths.recordings_dir()
    listing = catalog.scan(directory)
    for skipped in listing.skipped:  # never in the way of the others
        print(f"pairtui: skipped {printable(skipped.path.name)}: {printable(skipped.why)}",
              file=sys.stderr)  # fmt: skip
    if args.json:
        print_json([r.to_json() for r in listing.recordings])
        return 0
    if not listing.recordings:
        print(printable(f"no recordings in {directory}"))
        return 0
    rows = [
        [r.share, r.started.astimezone().strftime("%Y-%m-%d %H:%M"), duration(r.duration),
         size(r.size), "yes" if r.input_recorded else "no", r.name, ", ".join(r.guests) or "-"]
        for r in listing.recordings
    ]  # fmt: skip
    # Share and guest names come from the files: table() escapes every cell.
    print("\n".join(table(HEADER, rows)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pairtui.recording import catalog

    if not args.html:
        raise UsageError("recordings export", "say the format: --html (the only one for now)")
    source = catalog.resolve(args.file)
    out = Path(args.output) if args.output else source.with_suffix(".html")
    from pairtui.recording.html import export_html  # only this command needs it

    export_html(source, out, keys=args.keys)
    if args.json:
        print_json({"cast": str(source), "html": str(out)})
    else:
        print(printable(str(out)))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from pairtui.recording import catalog, player

    source = catalog.resolve(args.file)
    status = player.play(source, speed=args.speed, idle_limit=args.idle_limit)
    if args.json:
        print_json({"path": str(source), "state": status.state,
                    "position": round(status.position, 3),
                    "duration": round(status.duration, 3)})  # fmt: skip
    else:
        print(f"{status.line()} · {printable(source.name)}")
    return 0


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def register(sub: Any, add: Adder) -> None:
    rec = add(
        sub,
        "recordings",
        cmd_recordings,
        "recordings of shares: share, start, length, size, guests, input (alone: the list)",
        example="pairtui recordings\npairtui recordings --json",
    )
    rsub = rec.add_subparsers(dest="recordings_command", metavar="ACTION")
    add(
        rsub,
        "list",
        cmd_recordings,
        "list the recordings, newest first",
        example="pairtui recordings list --json",
    )
    ex = add(
        rsub,
        "export",
        cmd_export,
        "write a recording as one self-contained web page",
        example="pairtui recordings export demo-20261206T101500Z --html\n"
        "pairtui recordings export demo.cast --html -o ~/talk/demo.html",
    )
    ex.add_argument("file", metavar="FILE", help="a .cast file, or a name from pairtui recordings")
    ex.add_argument("--html", action="store_true", help="an HTML page with a player")
    ex.add_argument(
        "-o", "--output", metavar="OUT", help="where to write it (default: next to FILE, .html)"
    )
    ex.add_argument(
        "--keys",
        action="store_true",
        help="keep the keys pair guests typed (an --input recording), shown as typed; "
        "left out by default, as they include what never reached the screen",
    )
    pl = add(
        sub,
        "play",
        cmd_play,
        "play a recording on this terminal (space pause, . step, arrows seek, [ ] markers, q quit)",
        example="pairtui play demo-20261206T101500Z\n"
        "pairtui play demo.cast --speed 2 --idle-limit 2",
    )
    pl.add_argument("file", metavar="FILE", help="a .cast file, or a name from pairtui recordings")
    pl.add_argument(
        "--speed", type=_positive, default=1.0, metavar="X", help="play X times as fast (default 1)"
    )
    pl.add_argument(
        "--idle-limit",
        type=_positive,
        metavar="S",
        help="cut every pause longer than S seconds to S (default: as recorded)",
    )
