"""``python -m paperatlas``: the command line (as the ``paperatlas`` script)."""

from .cli import main

if __name__ == "__main__":
    main()
