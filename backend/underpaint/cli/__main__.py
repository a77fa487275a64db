"""`python -m underpaint.cli ...`: the same command line as the `underpaint` script.

The add-on's "Start Local Server" and the add-on tests run the backend this way, naming only
the backend environment's Python.
"""

import sys

from underpaint.cli import main

sys.exit(main())
