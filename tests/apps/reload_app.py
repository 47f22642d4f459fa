"""An MVC application for the autoreload tests: its greeting comes from
greeting.py in $RELOAD_DIR (the module whose change restarts it), its
setting from reload_app.conf there (the file whose change reloads the
configuration).

    reload_app.py --bind SOCKET [--forks N] [--autoreload]
    RELOAD_VIA_MAIN=1: main(autoreload=True) instead of the option."""
import os
import sys
import threading

sys.path.insert(0, os.environ["RELOAD_DIR"])

import greeting  # noqa: E402

from smisk.config import config  # noqa: E402
from smisk.mvc import *  # noqa: E402,F401,F403

reloaded_in = []
config.add_filter(lambda conf: reloaded_in.append(threading.current_thread().name))


class root(Controller):
    def __call__(self):
        return {"greeting": greeting.TEXT, "pid": os.getpid(), "ppid": os.getppid(),
                "setting": config.get("reload_test"), "filters_ran_in": sorted(set(reloaded_in))}


if __name__ == "__main__":
    config.set_default("smisk.mvc.response.serializer", "json")
    kw = {"autoreload": True} if os.environ.get("RELOAD_VIA_MAIN") else {}
    main(appdir=os.environ["RELOAD_DIR"], config="reload_app", **kw)
