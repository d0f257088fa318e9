"""The nouns of :class:`~paperatlas.library.Library`: ``lib.papers``, ``lib.collections``,
``lib.search``, ``lib.trees``, ``lib.map``, ``lib.follow`` (``lib.people`` and ``lib.jobs``
are the account and job services themselves). Each is built from typed collaborators,
never from the library itself."""
