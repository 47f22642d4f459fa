"""Time zones and a datetime with UTC conversion and XML Schema parsing."""
import datetime as _dt
import re
from typing import Any, Optional, Union

__all__ = ["UTCTimeZone", "OffsetTimeZone", "DateTime"]

_ZERO = _dt.timedelta(0)


class UTCTimeZone(_dt.tzinfo):
    """UTC, behaving as datetime.timezone.utc; one instance exists."""

    _instance: Optional["UTCTimeZone"] = None

    def __new__(cls) -> "UTCTimeZone":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def utcoffset(self, dt: Optional[_dt.datetime]) -> _dt.timedelta:
        return _ZERO

    def dst(self, dt: Optional[_dt.datetime]) -> _dt.timedelta:
        return _ZERO

    def tzname(self, dt: Optional[_dt.datetime]) -> str:
        return "UTC"

    def __reduce__(self) -> Any:
        return (UTCTimeZone, ())

    def __repr__(self) -> str:
        return "UTCTimeZone()"


_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class OffsetTimeZone(_dt.tzinfo):
    """A fixed offset from UTC: '+HH:MM' / '-HH:MM' (or 'Z'), or minutes east
    of UTC. tzname() is the offset text, e.g. '+02:00'."""

    def __init__(self, tzstr_or_minutes: Union[str, int] = 0) -> None:
        if isinstance(tzstr_or_minutes, str):
            text = tzstr_or_minutes.strip()
            if text in ("Z", "z"):
                minutes = 0
            else:
                m = _OFFSET_RE.match(text)
                if m is None:
                    raise ValueError(f"bad time zone offset {tzstr_or_minutes!r}: expected +HH:MM or -HH:MM")
                minutes = int(m.group(2)) * 60 + int(m.group(3))
                if m.group(1) == "-":
                    minutes = -minutes
        elif isinstance(tzstr_or_minutes, int) and not isinstance(tzstr_or_minutes, bool):
            minutes = tzstr_or_minutes
        else:
            raise TypeError(f"OffsetTimeZone takes '+HH:MM' or minutes, not {type(tzstr_or_minutes).__name__}")
        if not -1440 < minutes < 1440:
            raise ValueError(f"time zone offset out of range: {minutes} minutes")
        self.minutes = minutes
        self._offset = _dt.timedelta(minutes=minutes)
        sign = "-" if minutes < 0 else "+"
        self._name = "%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)

    def utcoffset(self, dt: Optional[_dt.datetime]) -> _dt.timedelta:
        return self._offset

    def dst(self, dt: Optional[_dt.datetime]) -> _dt.timedelta:
        return _ZERO

    def tzname(self, dt: Optional[_dt.datetime]) -> str:
        return self._name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetTimeZone) and other.minutes == self.minutes

    def __hash__(self) -> int:
        return hash(self.minutes)

    def __reduce__(self) -> Any:
        return (OffsetTimeZone, (self.minutes,))

    def __repr__(self) -> str:
        return f"OffsetTimeZone({self._name!r})"


_XSD_DATETIME_RE = re.compile(
    r"^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


class DateTime(_dt.datetime):
    """A datetime. DateTime(dt) converts a datetime (keeping its tzinfo);
    other arguments are those of datetime."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "DateTime":
        if len(args) == 1 and not kwargs and isinstance(args[0], _dt.datetime):
            d = args[0]
            return super().__new__(cls, d.year, d.month, d.day, d.hour, d.minute, d.second,
                                   d.microsecond, d.tzinfo, fold=d.fold)
        return super().__new__(cls, *args, **kwargs)

    def as_utc(self) -> "DateTime":
        """This time in UTC; a naive value is taken to be UTC already."""
        if self.tzinfo is None or self.utcoffset() is None:
            return DateTime(self.replace(tzinfo=UTCTimeZone()))
        return DateTime(self.astimezone(UTCTimeZone()))

    @classmethod
    def now(cls, tz: Optional[_dt.tzinfo] = None) -> "DateTime":  # type: ignore[override]
        """The current time, aware: in `tz`, or in the local zone with the
        offset in effect now (summer time included)."""
        if tz is not None:
            return cls(_dt.datetime.now(tz))
        local = _dt.datetime.now().astimezone()  # the system's current offset
        offset = local.utcoffset() or _ZERO
        return cls(local.replace(tzinfo=OffsetTimeZone(int(offset.total_seconds() // 60))))

    @classmethod
    def parse_xml_schema_dateTime(cls, string: str) -> "DateTime":
        """Parses an XML Schema dateTime ('2009-01-31T12:00:00Z',
        '2009-01-31T12:00:00.25+01:00'); no zone means UTC. The result is
        aware. Anything else raises ValueError."""
        if not isinstance(string, str):
            raise TypeError(f"expected str, not {type(string).__name__}")
        m = _XSD_DATETIME_RE.match(string.strip())
        if m is None:
            raise ValueError(f"not an XML Schema dateTime: {string[:64]!r}")
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        fraction = m.group(7)
        micro = int(round(float(fraction) * 1000000)) if fraction else 0
        micro = min(micro, 999999)
        zone = m.group(8)
        tz: _dt.tzinfo = UTCTimeZone() if zone in (None, "Z") else OffsetTimeZone(zone)
        # datetime checks the ranges (month 13, hour 25 ... raise ValueError).
        return cls(year, month, day, hour, minute, second, micro, tz)

    def __reduce__(self) -> Any:
        return (DateTime, (_dt.datetime(self.year, self.month, self.day, self.hour, self.minute,
                                        self.second, self.microsecond, self.tzinfo),))

