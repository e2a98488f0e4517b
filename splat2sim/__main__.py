import sys

from splat2sim.cli import main

sys.exit(main())
