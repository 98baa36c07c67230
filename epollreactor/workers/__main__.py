"""
C{python -m epollreactor.workers}: run a C{twist} plugin, or an
application's service, on several worker processes (L{epollreactor.workers})::

    python -m epollreactor.workers [--workers N] [--strategy S] [--grace SECONDS]
        [--log-level LEVEL] [--history FILE] PLUGIN [PLUGIN ARGUMENTS...]
    python -m epollreactor.workers [...] --service PACKAGE.MODULE.CALLABLE

Ctrl-C or SIGTERM stops every worker; SIGHUP replaces them one at a time.
"""

import argparse
import sys
from typing import Any, List, Optional, cast

from epollreactor.workers import DEFAULT_STRATEGY, STRATEGIES, defaultWorkers

__all__ = ["main", "parser", "targetOf"]


def parser() -> argparse.ArgumentParser:
    """
    @return: the command line's parser.
    """
    p = argparse.ArgumentParser(
        prog="python -m epollreactor.workers",
        description="Run a twist plugin (or --service) on several worker "
        "processes, each with its own EPollReactor, serving the ports it opens.",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=defaultWorkers(),
        help="how many worker processes (default: the usable cores, %(default)s)",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=DEFAULT_STRATEGY,
        help="how connections reach the workers (default: %(default)s)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds a stopping worker lets its connections finish (default: 10)",
    )
    p.add_argument(
        "--log-level",
        choices=["debug", "info", "warn", "error", "critical"],
        default="info",
        help="the workers log events of this level and above (default: info; "
        "warn leaves out twist web's access log); the supervisor logs all",
    )
    p.add_argument(
        "--history", help="write each ended worker's statistics to this JSON file"
    )
    p.add_argument(
        "--service",
        metavar="FQPN",
        help="a callable each worker calls for its service, instead of a plugin",
    )
    p.add_argument(
        "plugin", nargs=argparse.REMAINDER, help="a twist plugin and its arguments"
    )
    return p


def targetOf(arguments: argparse.Namespace) -> Optional[List[str]]:
    """
    @return: what each worker runs (L{WorkersService}'s C{target}), or
        C{None} when the command line names nothing to run.
    """
    if arguments.service:
        return ["service", arguments.service]
    if arguments.plugin:
        return ["twist"] + list(arguments.plugin)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    """
    Run the supervisor on an L{EPollReactor<epollreactor.EPollReactor>}
    until it is stopped.

    @return: the exit status: 0, or 2 for a usage error.
    """
    arguments = parser().parse_args(argv)
    target = targetOf(arguments)
    if target is None:
        parser().print_usage(sys.stderr)
        print("a twist plugin, or --service, is needed", file=sys.stderr)
        return 2
    if arguments.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    from epollreactor import install

    install()
    from twisted.internet import reactor as installed
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from epollreactor.workers._supervisor import WorkersService

    reactor = cast(Any, installed)
    globalLogBeginner.beginLoggingTo(
        [cast(Any, textFileLogObserver(sys.stdout))], redirectStandardIO=False
    )
    # The workers write their lines to the same output themselves.
    sys.stdout.flush()
    service = WorkersService(
        target,
        arguments.workers,
        arguments.strategy,
        arguments.grace,
        reactor,
        relayOutput=False,
        logLevel=arguments.log_level,
    )
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    if arguments.history:
        service.writeHistory(arguments.history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
