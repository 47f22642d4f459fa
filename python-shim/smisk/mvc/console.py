"""An interactive Python shell with a Smisk MVC application loaded.

    python -m smisk.mvc.console -d path/to/app      # or from the app directory
    python -m smisk.mvc.console -d examples/mvc/kittens -e development

    >>> Kitten.query.count()
    >>> ls(Kitten)

The application directory (`-d/--appdir`, else `$SMISK_APP_DIR`, else the
current directory under `python -m`, else the main script's directory)
is imported (a package: its parent goes on sys.path; a directory holding
`<dirname>.py`: that module) unless a root controller exists already, and
its names are put into the shell; `<dirname>.conf` there is loaded; then
the application is set up (`smisk.mvc.setup(application=..., appdir=...)`)
exactly as `main()` would, without serving. History is kept in
`~/.<appname>_console_history` (1000 lines) when readline is available,
with tab completion."""
import argparse
import builtins
import code
import importlib
import logging
import os
import sys
from typing import Any, Dict, List, Optional

__all__ = ["Console", "export", "main", "ls"]

log = logging.getLogger(__name__)

LOG_FORMAT = "\033[1;33m%(levelname)-8s \033[1;31m%(name)-20s\033[0m %(message)s"
HISTORY_LENGTH = 1000


class Console(code.InteractiveConsole):
    """code.InteractiveConsole with readline completion and a history file
    (saved at exit); without readline it works without either."""

    def __init__(self, locals: Optional[Dict[str, Any]] = None, filename: str = "<console>",
                 histfile: str = "~/.console-history") -> None:
        super().__init__(locals, filename)
        self.histfile = os.path.expanduser(histfile)
        self.readline: Any = None
        if sys.stdin.isatty():
            self._init_readline()

    def _init_readline(self) -> None:
        try:
            import readline
            import rlcompleter
        except ImportError:
            return
        self.readline = readline
        readline.set_completer(rlcompleter.Completer(self.locals).complete)
        readline.parse_and_bind("tab: complete")
        try:
            readline.read_history_file(self.histfile)
        except (OSError, UnicodeDecodeError):
            pass
        import atexit

        atexit.register(self.save_history)

    def save_history(self) -> None:
        if self.readline is None:
            return
        try:
            self.readline.set_history_length(HISTORY_LENGTH)
            self.readline.write_history_file(self.histfile)
        except OSError as e:
            log.debug("history not saved to %s: %s", self.histfile, e)


def export(obj: Any) -> None:
    """Puts a dict's items, or an object's public attributes, into builtins
    (so every module of the shell sees them)."""
    items = obj.items() if isinstance(obj, dict) else ((k, getattr(obj, k)) for k in dir(obj) if not k.startswith("_"))
    for k, v in items:
        setattr(builtins, k, v)


def ls(obj: Any) -> None:
    """Prints the members of `obj`, one `name = value` line each."""
    from smisk.util.introspect import introspect

    print(introspect.format_members(obj, colorize=sys.stdout.isatty()))


class _Help:
    def __repr__(self) -> str:
        return ("Smisk console: the application's names are loaded. ls(obj) lists members; "
                "help(obj) is Python's help; console is this shell; exit with Ctrl-D.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import pydoc

        return pydoc.help(*args, **kwargs)


def _find_appdir(option: Optional[str], as_module: bool) -> str:
    if option:
        return os.path.abspath(option)
    if os.environ.get("SMISK_APP_DIR"):
        return os.path.abspath(os.environ["SMISK_APP_DIR"])
    if as_module or not getattr(sys.modules.get("__main__"), "__file__", None):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(str(sys.modules["__main__"].__file__)))


def _import_app(appdir: str) -> Dict[str, Any]:
    """Imports the application in appdir; its public names."""
    name = os.path.basename(appdir.rstrip("/"))
    if os.path.isfile(os.path.join(appdir, "__init__.py")):
        sys.path.insert(0, os.path.dirname(appdir))
    elif os.path.isfile(os.path.join(appdir, f"{name}.py")):
        sys.path.insert(0, appdir)
    else:
        return {}
    module = importlib.import_module(name)
    return {k: v for k, v in vars(module).items() if not k.startswith("_")}


def main(app: Any = None, chdir: Optional[str] = None, appdir: Optional[str] = None, log_format: str = LOG_FORMAT,
         intro_eval: Optional[str] = None, argv: Optional[List[str]] = None, *args: Any, **kwargs: Any) -> None:
    """Loads the application and runs the shell (see the module doc)."""
    p = argparse.ArgumentParser(prog="smisk.mvc.console", description="Smisk interactive console")
    p.add_argument("-d", "--appdir", metavar="PATH", help="the application directory")
    p.add_argument("-e", "--environment", metavar="VALUE", help="sets SMISK_ENVIRONMENT")
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.environment:
        os.environ["SMISK_ENVIRONMENT"] = opts.environment
    logging.basicConfig(format=log_format)
    as_module = getattr(sys.modules.get("__main__"), "__spec__", None) is not None and \
        getattr(sys.modules["__main__"].__spec__, "name", "") == __name__
    appdir = opts.appdir or appdir
    appdir = _find_appdir(appdir, as_module)
    appname = os.path.basename(appdir.rstrip("/")) or "smisk"
    import smisk
    import smisk.mvc
    from smisk.mvc import control

    namespace: Dict[str, Any] = {}
    if control.root_controller() is None:
        namespace.update(_import_app(appdir))
    if chdir:
        os.chdir(chdir)
    config = appname if os.path.isfile(os.path.join(appdir, f"{appname}.conf")) else None
    application = smisk.mvc.setup(application=app, appdir=appdir, config=config, **kwargs)

    namespace.setdefault("app", application)
    export({"ls": ls, "help": _Help()})
    export(namespace)
    shell = Console(locals=dict(namespace, __name__="__console__"),
                    histfile=f"~/.{appname}_console_history")
    builtins.console = shell  # type: ignore[attr-defined]
    banner = (f"Smisk v{smisk.__version__} interactive console. Python v{sys.version.split()[0]}\n"
              f"Application: {appdir}\nType help for help.")
    if intro_eval:
        shell.push(intro_eval)
    shell.interact(banner=banner, exitmsg="")


if __name__ == "__main__":
    main()
