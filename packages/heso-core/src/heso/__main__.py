import sys

from heso.cli import main

sys.exit(main())
