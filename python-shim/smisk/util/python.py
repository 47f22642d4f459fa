"""Exceptions, classes and modules."""
import importlib.util

import os
import sys
import traceback
import warnings
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Tuple, Type, Union

__all__ = [
    "format_exc", "wrap_exc_in_callable", "classmethods", "unique_sorted_modules_of_items",
    "list_python_filenames_in_dir", "find_modules_for_classtree", "load_modules",
]

ExcInfo = Tuple[Optional[Type[BaseException]], Optional[BaseException], Any]


def format_exc(exc: Optional[ExcInfo] = None, as_string: bool = False) -> Union[str, List[str]]:
    """The formatted traceback of `exc` (an exc_info tuple; default: the
    exception being handled) as a list of lines, or one string with
    `as_string`. '' when there is no exception."""
    if exc is None:
        exc = sys.exc_info()
    if exc[0] is None:
        return "" if as_string else []
    lines = traceback.format_exception(exc[0], exc[1], exc[2])
    return "".join(lines) if as_string else lines


def wrap_exc_in_callable(exc: BaseException) -> Callable[..., NoReturn]:
    """A callable that raises `exc` whatever it is called with."""
    def raise_it(*args: Any, **kwargs: Any) -> NoReturn:
        raise exc
    return raise_it


def classmethods(cls: type) -> List[str]:
    """Names of the public class methods of `cls` (its bases' included)."""
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        for klass in cls.__mro__:
            if name in klass.__dict__:
                if isinstance(klass.__dict__[name], classmethod):
                    names.append(name)
                break
    return names


def unique_sorted_modules_of_items(items: Iterable[Any]) -> List[str]:
    """The sorted, distinct __module__ names of `items`."""
    return sorted({item.__module__ for item in items if getattr(item, "__module__", None)})


def list_python_filenames_in_dir(path: str, only_py: bool = True) -> List[str]:
    """Sorted module names of the Python files in directory `path`: .py
    files, and .pyc/.pyo ones too unless `only_py`."""
    suffixes = (".py",) if only_py else (".py", ".pyc", ".pyo")
    names = set()
    for entry in os.listdir(path):
        base, ext = os.path.splitext(entry)
        if ext in suffixes and os.path.isfile(os.path.join(path, entry)):
            names.add(base)
    return sorted(names)


def find_modules_for_classtree(cls: type, exclude_root: bool = True, unique: bool = True) -> List[ModuleType]:
    """The modules defining `cls` and its subclasses (all levels), in
    class-tree order; without `cls`'s own unless `exclude_root` is false.
    With `unique`, each module once."""
    modules: List[ModuleType] = []
    seen_classes = set()

    def visit(klass: type, is_root: bool) -> None:
        if klass in seen_classes:  # a class reached through two bases
            return
        seen_classes.add(klass)
        if not (is_root and exclude_root):
            module = sys.modules.get(klass.__module__)
            if module is not None and (not unique or module not in modules):
                modules.append(module)
        subclasses: List[type] = type.__subclasses__(klass)
        for sub in subclasses:
            visit(sub, False)

    visit(cls, True)
    return modules


def load_modules(path: str, deep: bool = False, skip_first_init: bool = True, libdir: Optional[str] = None,
                 parent_name: Optional[str] = None) -> Dict[str, ModuleType]:
    """Imports every Python module in directory `path` (and, with `deep`, in
    its package subdirectories) and returns {dotted name: module}.

    Deprecated since Smisk 1.1.1: import your modules normally. `libdir` is
    accepted and ignored (modules are loaded from their files). Names are
    `<parent_name>.<module>` (or `<module>`); `skip_first_init` leaves out
    `path/__init__.py` itself."""
    warnings.warn("smisk.util.python.load_modules is deprecated: import the modules normally",
                  DeprecationWarning, stacklevel=2)
    loaded: Dict[str, ModuleType] = {}
    path = os.path.abspath(path)
    for name in list_python_filenames_in_dir(path):
        if name == "__init__" and skip_first_init:
            continue
        dotted = f"{parent_name}.{name}" if parent_name else name
        if name == "__init__":
            dotted = parent_name or os.path.basename(path)
        loaded[dotted] = _import_file(dotted, os.path.join(path, name + ".py"))
    if deep:
        for entry in sorted(os.listdir(path)):
            sub = os.path.join(path, entry)
            if os.path.isdir(sub) and os.path.isfile(os.path.join(sub, "__init__.py")):
                dotted = f"{parent_name}.{entry}" if parent_name else entry
                loaded[dotted] = _import_file(dotted, os.path.join(sub, "__init__.py"), package_dir=sub)
                loaded.update(load_modules(sub, deep=True, skip_first_init=True, parent_name=dotted))
    return loaded


def _import_file(name: str, filename: str, package_dir: Optional[str] = None) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, filename, submodule_search_locations=[package_dir] if package_dir else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {filename}", name=name, path=filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


