"""A repeating timer thread, and a monitor that owns one."""
import threading
from typing import Any, Callable, Optional

__all__ = ["PerpetualTimer", "Monitor"]


class PerpetualTimer(threading.Timer):
    """Calls `setup_callback()` once in the new thread, then
    `callback(*args, **kwargs)` every `frequency` seconds until cancel()."""

    def __init__(self, frequency: float, callback: Callable[..., Any],
                 setup_callback: Optional[Callable[[], Any]] = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(frequency, callback, args, kwargs)
        self.frequency = frequency
        self.setup_callback = setup_callback
        self.daemon = True

    def run(self) -> None:
        if self.setup_callback is not None:
            self.setup_callback()
        # finished is the Event cancel() sets: wait() returns True then.
        while not self.finished.wait(self.frequency):
            self.function(*self.args, **self.kwargs)


class Monitor:
    """Runs `callback` every `frequency` seconds in a thread named
    'Monitor:<ClassName>'; `frequency <= 0` disables it."""

    def __init__(self, callback: Callable[[], Any], setup_callback: Optional[Callable[[], Any]] = None,
                 frequency: float = 60.0) -> None:
        self.callback = callback
        self.setup_callback = setup_callback
        self.frequency = frequency
        self.thread: Optional[PerpetualTimer] = None

    def start(self) -> None:
        """Starts the thread; a no-op when it runs already or frequency <= 0."""
        if self.frequency <= 0 or (self.thread is not None and self.thread.is_alive()):
            return
        self.thread = PerpetualTimer(self.frequency, self.callback, self.setup_callback)
        self.thread.name = f"Monitor:{type(self).__name__}"
        self.thread.start()

    def stop(self) -> None:
        """Cancels the thread and waits for it, unless called from it."""
        thread = self.thread
        if thread is None:
            return
        thread.cancel()
        if thread is not threading.current_thread() and thread.is_alive():
            thread.join()
        self.thread = None

    def restart(self) -> None:
        self.stop()
        self.start()
