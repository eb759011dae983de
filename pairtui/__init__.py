"""pairtui: share tmux with guests over SSH, with a live view of who is in.

Warnings are set up here, before any dependency is imported, because every entry point
(the ``pairtui`` script, ``python -m pairtui``, the tmux key) imports this package
first. A host cannot act on a dependency's warning (cryptography 51 deprecating DSA
made asyncssh print ten lines in every command, the dashboard included), so warnings
raised from a dependency's own code are not shown. pairtui's own warnings are, and
``-W`` or ``PYTHONWARNINGS`` bring the dependencies' back (``scripts/smoke-latest``
runs that way to see a new one the day it appears); the ones known to be harmless stay
quiet even then.
"""

from __future__ import annotations

import sys
import warnings

__version__ = "0.1.0"

# (message, module) regular expressions of dependency warnings known to be harmless.
KNOWN_WARNINGS = (
    # cryptography >= 51 deprecates DSA; asyncssh names the DSA types at import, and
    # pairtui never accepts or makes a DSA key (OpenSSH dropped them too).
    (r"DSA is deprecated", r"asyncssh(\.|$)"),
)
# Any module but pairtui's own (and a script run as __main__).
NOT_OURS = r"(?!pairtui(\.|$)|__main__$)"


def _quiet_dependencies() -> None:
    if not sys.warnoptions:
        warnings.filterwarnings("ignore", module=NOT_OURS)
    for message, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)


_quiet_dependencies()
