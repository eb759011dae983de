"""Benchmarks: pairtui's server against OpenSSH's sshd + forced ``tmux attach``.

Run ``.venv/bin/python -m benchmarks`` (or ``benchmarks/run``); see README.md.
"""
