"""
C{python -m epollreactor}: the doctor, L{epollreactor._doctor.main}.
"""

import sys

from epollreactor._doctor import main

if __name__ == "__main__":
    sys.exit(main())
