"""The pure core: load → validate → render → plan → Markdown.

Nothing here opens a socket, prompts, or writes outside the return value: a runbook and an
inventory go in, frozen values (`model`) and text come out, so every input problem is found
before anything runs, and the whole core is tested without a host.
"""
