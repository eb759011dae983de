"""Fetch a person's public keys from a forge (``https://github.com/USER.keys``)."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request

from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.errors import PairtuiError

USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,98}")  # always used with fullmatch


def fetch_keys(forge: str, base_url: str, user: str, timeout: float = 10.0) -> list[GuestKey]:
    if not USER_RE.fullmatch(user):
        raise PairtuiError(f"invalid {forge} user name {user!r}")
    url = f"{base_url.rstrip('/')}/{user}.keys"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read(1 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise PairtuiError(f"{forge} has no user {user!r} ({url})") from None
        raise PairtuiError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PairtuiError(f"cannot reach {url}: {reason}") from None
    except (http.client.HTTPException, ValueError) as exc:
        # A malformed base URL in the config, or a server that broke off mid-answer.
        raise PairtuiError(f"cannot fetch {url}: {exc or type(exc).__name__}") from None
    if not text.strip():
        raise PairtuiError(f"{forge} user {user!r} has no public keys ({url})")
    return parse_public_keys(text, source=url)
