"""``python -m nbchat.server [--port N ...]``: same as ``nbchat serve``."""

import sys

from nbchat.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
