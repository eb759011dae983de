from __future__ import annotations

from pairtui.cli import main

raise SystemExit(main())
