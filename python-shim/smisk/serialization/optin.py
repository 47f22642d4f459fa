"""Readers that execute or trust their input are off until an application
turns them on: `SomeSerializer.allow_read = True` (or in a subclass), and
`can_unserialize` follows."""
from typing import Any


class OptInReading(type):
    """Metaclass making `can_unserialize` mirror the class's `allow_read`."""

    @property
    def can_unserialize(cls) -> bool:
        return bool(getattr(cls, "allow_read", False))

    @can_unserialize.setter
    def can_unserialize(cls, value: Any) -> None:
        cls.allow_read = bool(value)
