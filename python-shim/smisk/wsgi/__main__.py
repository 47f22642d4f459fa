import sys

from smisk.wsgi.runner import main

sys.exit(main())
