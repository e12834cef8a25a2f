"""``python -m nbchat serve ...``: the same as the ``nbchat`` command."""

from nbchat.cli import main

raise SystemExit(main())
