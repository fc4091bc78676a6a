import sys

from arst.cli import main

sys.exit(main())
