import sys

from practice_client.cli import main

sys.exit(main())
