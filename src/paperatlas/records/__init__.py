"""Typed records at the bottom of the package graph: what parsers read, the store holds, the
services pass around and the edges show.

One module per area (``papers``: papers and their ingest; ``people``: users and tokens;
``jobs``; ``trees``; ``follow``: subscriptions, digests, the outbox; ``maps``) and
``serialize``, the one rule that turns any of them into JSON. Records import nothing from
the rest of paperatlas, so ``store/`` and every feature package may import them.
"""
