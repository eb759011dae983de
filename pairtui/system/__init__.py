"""System guests: real Unix users who log in through the machine's own sshd.

The classic recipe, automated: ``pairtui system setup`` (as root) creates a Unix user
(``guest`` by default), writes its ``~/.ssh/authorized_keys`` from the pairtui registry
and lets that user reach the host's tmux server. Every key line is
``restrict,pty[,expiry-time=...],command="<tmux attach>"``: sshd runs nothing but the
literal, confined attach for that guest's share and mode, built by
:meth:`pairtui.tmux.Tmux.attach_argv` like the embedded server's. The guest user cannot
read the host's registry, so the line must not need it.

Access to tmux has two gates, both narrow and both recorded in ``system.json`` in the
state dir so that teardown undoes exactly them:

- the file system: a POSIX ACL entry for that user only, write on the socket (all a
  Unix socket ``connect`` needs) and search (``x``, no listing) on each directory
  above it the user could not already pass;
- tmux 3.3's ``server-access``: read-write (``-w``), granted once and never flipped.
  tmux has one entry per Unix user, and ``-w``/``-r`` rewrite the read-only flag of
  every client of that user at once, so flipping it with the guests' modes would free a
  view client that attaches between two tmux calls. A view client is read-only because
  its forced command attaches with ``-f read-only`` (set before it is attached, and
  nothing user-wide clears it afterwards); a pair client attaches without.

The forced command does not ``exec`` tmux: its ``sh -c`` parent stays, and its command
line (``...; : pairtui-guest=NAME``) tells ``pairtui clients`` which guest a tmux
client belongs to.

One module per concern, each importing only those before it: ``state`` (the record),
``sudo`` (acting as root for the host), ``keys_file``, ``acl`` (the xattr), ``procfs``,
``clients`` (list, kick), ``sync``, ``provision`` (setup, status, teardown) and
``sshd`` (the ``AuthorizedKeysCommand``). Here are only the names other packages call
as ``system.NAME`` (the front ends that start an engine, the dashboard, ``pairtui
clients``); everything else is
imported from its module.
"""

from __future__ import annotations

from pairtui.system.clients import kick, list_clients
from pairtui.system.state import state_file
from pairtui.system.sync import sync_problems

__all__ = ["kick", "list_clients", "state_file", "sync_problems"]
