"""
Signals sent to the main thread by another thread, for the EINTR tests,
such that no signal is ever sent after the test has restored the handler.

A SIGUSR1 that arrives once the disposition is back to C{SIG_DFL} kills the
whole test run (exit status 138).  Two ways let a sender outlive its
handler: a handler that raises while the main thread joins the sender (the
join is abandoned, the handler restored, and the sender sends once more),
and a handler that raises inside the context manager's C{__enter__}, right
after the sender started (C{with} then never calls C{__exit__}).  So the
join here survives a raising handler, and L{Pester} signals only while the
main thread is blocked in C{epoll_wait(2)}, never before the call it is
meant to interrupt.
"""

import signal
import threading
from typing import Optional


def joinThroughSignals(thread: threading.Thread) -> None:
    """
    Join C{thread}, whose stop flag is set, even when a signal handler
    raises in the meantime; then raise the first such exception.
    """
    raised: Optional[BaseException] = None
    # A thread that is not alive either ended or never ran its target, so
    # it sends nothing more: its stop flag is set before this is called.
    while thread.is_alive():
        try:
            thread.join()
        except BaseException as e:
            if raised is None:
                raised = e
    if raised is not None:
        raise raised


def waitingInEpoll(nativeId: int) -> bool:
    """
    @param nativeId: a thread of this process, by its kernel thread id.
    @return: whether that thread is asleep in C{epoll_wait(2)}: where the
        kernel says it sleeps (C{/proc/self/task/TID/wchan}, proc(5)) is
        C{do_epoll_wait}, or C{ep_poll} on older kernels.
    """
    try:
        with open("/proc/self/task/{}/wchan".format(nativeId)) as wchan:
            where = wchan.read()
    except OSError:
        return False
    return "epoll" in where or "ep_poll" in where


class Pester:
    """
    A thread that sends the main thread SIGUSR1 every millisecond while the
    main thread is asleep in C{epoll_wait(2)}, until stopped: every signal
    interrupts a wait, none lands before or after it.

    @ivar sent: how many signals it sent.
    """

    def __init__(self) -> None:
        """
        Ready to start; signals go to the main thread.
        """
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.main = threading.main_thread().ident
        self.mainNative = threading.get_native_id()
        self.sent = 0

    def run(self) -> None:
        """
        Signal the main thread every millisecond, while it waits in
        C{epoll_wait(2)}, until stopped.
        """
        assert self.main is not None
        while not self.stopped.wait(0.001):
            if waitingInEpoll(self.mainNative):
                signal.pthread_kill(self.main, signal.SIGUSR1)
                self.sent += 1

    def __enter__(self) -> "Pester":
        """
        Start signalling.
        """
        assert threading.current_thread() is threading.main_thread()
        try:
            self.thread.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *excinfo: object) -> None:
        """
        Stop signalling, and wait for the thread.
        """
        self.stopped.set()
        joinThroughSignals(self.thread)
