"""`pairtui record SHARE`: record what a view guest of a share sees (see pairtui.recording)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pairtui.cli.common import Adder, engine_request, print_json
from pairtui.printable import printable
from pairtui.sizes import size


def start_recording(share: str, keys: bool) -> dict[str, Any]:
    """Ask the running server to record ``share``: ``record`` and ``share --record`` alike."""
    return dict(engine_request("record", action="start", share=share, input=keys)["recording"])


def said_started(rec: dict[str, Any]) -> str:
    kept = "what its guests see and what pair guests type" if rec["input"] else (
        "what its guests see"
    )  # fmt: skip
    return printable(f"recording {rec['share']} ({kept}) into {rec['path']}; its guests are "
                     f"told and see REC (pairtui record {rec['share']} --stop)")  # fmt: skip


def cmd_record(args: argparse.Namespace) -> int:
    if not args.share:
        rows = engine_request("record", action="list")["recordings"]
        if args.json:
            print_json(rows)
            return 0
        if not rows:
            print("no share is being recorded: pairtui record SHARE [--input]")
        for r in rows:
            what = "screen and keys" if r["input"] else "screen"
            print(printable(f"{r['share']}  {what}  {size(int(r['size']))}  {r['path']}"))
        return 0
    if args.stop:
        rec = engine_request("record", action="stop", share=args.share)["recording"]
        if args.json:
            print_json(rec)
        else:
            nbytes = Path(rec["path"]).stat().st_size if Path(rec["path"]).exists() else 0
            print(printable(f"stopped recording {rec['share']}: {rec['path']} ({size(nbytes)}); "
                            f"play it with `pairtui play {rec['path']}`"))  # fmt: skip
        return 0
    rec = start_recording(args.share, args.input)
    if args.json:
        print_json(rec)
    else:
        print(said_started(rec))
    return 0


def register(sub: Any, add: Adder) -> None:
    rec = add(
        sub,
        "record",
        cmd_record,
        "record what the guests of a share see (and with --input what they type)",
        example="pairtui record main            # until pairtui record main --stop\n"
        "pairtui record main --input    # keys typed too, attributed to each guest\n"
        "pairtui record                 # what is being recorded now",
    )
    rec.add_argument("share", nargs="?", metavar="SHARE", help="the share (none: list recordings)")
    rec.add_argument("--stop", action="store_true", help="stop recording SHARE")
    rec.add_argument("--input", action="store_true",
                     help="also keep the keys pair guests type, with who typed them "
                     "(off by default: it may hold passwords)")  # fmt: skip
