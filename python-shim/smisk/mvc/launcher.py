"""`main()` for MVC applications: smisk.util.main.Main with the MVC
Application as default and its set-up run once per process."""
import os
from typing import Any, Optional

import smisk.util.main
from smisk.mvc.application import Application, environment

__all__ = ["Main", "main", "setup", "run"]


class Main(smisk.util.main.Main):
    default_app_type = Application

    def setup(self, application: Any = None, appdir: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
        """Once per process (later calls return the application): the
        runner's set-up, then SMISK_ENVIRONMENT and application.setup()."""
        if self._application is not None:
            return self._application
        app = super().setup(application, appdir, *args, **kwargs)
        os.environ["SMISK_ENVIRONMENT"] = environment()
        app.setup()
        return app


main = Main()
setup = main.setup
run = main.run
