"""smisk: a web framework core (Rust library with a C ABI) for CPython 3."""

__version__ = "2.0.0.dev1"
