"""Invite a guest: a name, a key (pasted, a file, or a forge user), mode, expiry, share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field
from pairtui.errors import PairtuiError
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.authorized_keys import GuestKey
    from pairtui.keys import KeySource
    from pairtui.registry import Guest


@dataclass(frozen=True)
class GuestDraft:
    """A guest ready for :meth:`Registry.add`: keys parsed, expiry resolved."""

    name: str
    keys: list[GuestKey]
    mode: str
    expires: datetime | bool | None  # False: left empty (an existing guest keeps its expiry)
    share: str | None


class AddGuestDialog(FormDialog[GuestDraft]):
    """Every field is checked as you type; Add fetches forge keys, then dismisses."""

    BINDINGS = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            id="add-guest-cancel",
            tooltip="Close without adding anyone",
        ),
        Binding(
            "ctrl+s",
            "submit",
            "Add",
            id="add-guest-submit",
            tooltip="Add the guest (Enter in any field does too)",
        ),
    ]

    def __init__(
        self,
        guests: dict[str, Guest],
        *,
        shares: list[str],
        default_mode: str = "view",
        forges: dict[str, str] | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.guests = guests
        self.owners = {k.blob: g.name for g in guests.values() for k in g.keys}
        self.shares = shares
        self.default_mode = default_mode
        self.forges = forges or {}  # name -> base URL: every forge of the config

    def read_key(self, text: str) -> KeySource:
        from pairtui.keys import read_key_source  # the core loads after the first paint

        return read_key_source(text, self.forges)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-wide"):
            yield Label("Add a guest", classes="dialog-title")
            with Horizontal(classes="field-row"):
                yield Field(
                    "Name",
                    Input(placeholder="alice", id="name", validators=[CoreCheck(self.check_name)]),
                    hint="Letters, digits, '.', '_' or '-'",
                )
                with Vertical(classes="field"):
                    yield Label("Mode", classes="field-label")
                    yield Select(
                        [("view: watches only", "view"), ("pair: can type", "pair")],
                        value=self.default_mode,
                        allow_blank=False,
                        id="mode",
                    )
            yield Field(
                "Public key",
                Input(
                    placeholder=self._key_placeholder(),
                    id="key",
                    validators=[CoreCheck(self.check_key)],
                ),
                hint=self._key_hint(),
            )
            with Horizontal(classes="field-row"):
                yield Field(
                    "Expires",
                    Input(
                        placeholder="never", id="expires", validators=[CoreCheck(self.check_expiry)]
                    ),
                    hint="never, 30m, 2h, 7d or 2026-12-01T10:00",
                )
                yield Field(
                    "Share",
                    Input(
                        placeholder="any",
                        id="share",
                        validators=[CoreCheck(self.check_share)],
                        suggester=SuggestFromList(self.shares, case_sensitive=True),
                    ),
                    hint="Only this share (empty: any)",
                )
            yield Static("", id="add-guest-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Add guest", id="add", variant="primary")

    def _key_placeholder(self) -> str:
        forge = next(iter(self.forges), None)
        return "ssh-ed25519 AAAA… · ~/alice.pub" + (f" · {forge}:alice" if forge else "")

    def _key_hint(self) -> str:
        users = " / ".join(f"{forge}:USER" for forge in self.forges)
        return "Paste the key, give the path of a .pub file" + (f", or {users}." if users else ".")

    # --- checks (the core's own rules) ---------------------------------------------

    def check_name(self, value: str) -> str | None:
        from pairtui.registry import validate_name

        validate_name(value.strip())
        if value.strip() in self.guests:
            return f"{value.strip()} is already a guest: this adds a key to it"
        return None

    def check_key(self, value: str) -> str | None:
        source = self.read_key(value)
        if source.forge:
            return f"the keys of {source.user} on {source.forge} are fetched when you add"
        for key in source.keys:
            owner = self.owners.get(key.blob)
            if owner is not None:
                raise PairtuiError(
                    f"key {key.fingerprint} is already registered to guest {owner!r}"
                )
        return ", ".join(f"{k.algorithm} {k.fingerprint}" for k in source.keys)

    def check_expiry(self, value: str) -> str | None:
        from pairtui.registry import parse_expiry

        parse_expiry(value)
        return None

    def check_share(self, value: str) -> str | None:
        from pairtui.shares import validate_share_name

        if value.strip():
            validate_share_name(value.strip())
            if value.strip() not in self.shares:
                return f"no share {value.strip()!r} yet; the guest can join once it exists"
        return None

    # --- submitting -----------------------------------------------------------------

    OK_ID = "add"

    def problem(self, field: Field) -> str | None:
        if field.input.id in ("name", "key") and not field.input.value.strip():
            return "required"
        return None

    def accepted(self) -> None:
        self.finish()  # forge keys are fetched first

    @work(exclusive=True, group="add-guest")
    async def finish(self) -> None:
        from pairtui.keys import fetch
        from pairtui.registry import parse_expiry

        source = self.read_key(self.query_one("#key", Input).value)
        keys = list(source.keys)
        status = self.query_one("#add-guest-status", Static)
        if source.forge and source.user:
            base = self.forges[source.forge]
            status.update(Content(f"Fetching the keys of {source.user} from {base}…"))
            try:
                keys = await asyncio.to_thread(fetch, source, self.forges)
            except PairtuiError as exc:  # it may quote what the forge sent
                status.update(Content(printable(str(exc), multiline=True)))
                status.add_class("-error")
                return
            taken = [k for k in keys if k.blob in self.owners]
            if taken:
                status.update(
                    Content(
                        f"key {taken[0].fingerprint} is already registered to guest "
                        f"{self.owners[taken[0].blob]!r}"
                    )
                )
                status.add_class("-error")
                return
        share = self.query_one("#share", Input).value.strip()
        mode = self.query_one("#mode", Select).value
        when = self.query_one("#expires", Input).value.strip()
        self.dismiss(
            GuestDraft(
                name=self.query_one("#name", Input).value.strip(),
                keys=keys,
                mode=str(mode),
                expires=parse_expiry(when) if when else False,
                share=share or None,
            )
        )
