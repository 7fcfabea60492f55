"""Entry point of the windowed executable (``practice-client-gui``).

Without arguments it starts the desktop app. ``practice-client-gui agent`` runs the
headless agent without a console window: the Windows autostart entry uses it so that
no console flashes on the screen at logon; ``--version`` answers like the console
executable. Everything else is the desktop app's own options (``--screenshot``, ``--page``).
"""

from __future__ import annotations

import sys

from practice_client.cli import gui_main, main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) if sys.argv[1:2] in (["agent"], ["--version"]) else gui_main())
