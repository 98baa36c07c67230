"""
The C{epollreactor-workers} plugin of C{twist} and C{twistd}: the
supervisor as a service (L{WorkersService}), with the command line of
C{python -m epollreactor.workers}::

    twistd -n epollreactor-workers --workers 4 web --path . --listen tcp:8080
"""

from typing import Any, List, Optional

from twisted.python import usage

from epollreactor.workers.__main__ import parser, targetOf

__all__ = ["Options", "makeService"]


class Options(usage.Options):
    """
    The command line of C{python -m epollreactor.workers}, parsed by its
    own parser: everything after the plugin's name is the plugin's.
    """

    def parseOptions(self, options: Optional[List[str]] = None) -> None:
        """
        Parse C{options} as C{python -m epollreactor.workers} would.

        @raise twisted.python.usage.UsageError: for a usage error.
        """
        try:
            arguments = parser().parse_args(options or [])
        except SystemExit as e:
            raise usage.UsageError("see --help") from e
        target = targetOf(arguments)
        if target is None:
            raise usage.UsageError("a twist plugin, or --service, is needed")
        self["arguments"] = arguments
        self["target"] = target

    def getUsage(self, width: Optional[int] = None) -> str:
        """
        @return: the parser's help.
        """
        return parser().format_help()


def makeService(options: Options) -> Any:
    """
    @return: a L{WorkersService} for C{options}.
    """
    from epollreactor.workers._supervisor import WorkersService

    arguments = options["arguments"]
    return WorkersService(
        options["target"],
        arguments.workers,
        arguments.strategy,
        arguments.grace,
        logLevel=arguments.log_level,
    )
