"""Shared by the Python benchmark scripts under bench/: bench/fcgi-bench
(an executable without .py) loaded as a module, so its process, /proc and
table helpers are reused instead of copied."""
import importlib.machinery
import importlib.util
import os

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)


def load_fcgi_bench():
    path = os.path.join(BENCH, "fcgi-bench")
    loader = importlib.machinery.SourceFileLoader("fcgi_bench", path)
    spec = importlib.util.spec_from_loader("fcgi_bench", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod
