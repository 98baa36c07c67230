"""
Run every scenario of L{tests.scenarios.stale}, and every fault program of
L{tests.faults}, against Twisted's stock C{EPollReactor} and ours, and
print a table of the outcomes.

Run it with C{.venv/bin/python -m tests.scenarios.compare}.
"""

import sys
from typing import Any, List, Tuple

from twisted.internet.epollreactor import EPollReactor as StockReactor

from epollreactor import EPollReactor
from tests.faults.drive import FAULTS
from tests.scenarios.stale import SCENARIOS, run


def compare() -> List[Tuple[str, str, Tuple[bool, str], Tuple[bool, str]]]:
    """
    @return: for each scenario, its name, its reference, and the outcome on
        the stock reactor and on ours.
    """
    rows = []
    for name, reference, scenario in SCENARIOS:
        rows.append(
            (name, reference, run(StockReactor, scenario), run(EPollReactor, scenario))
        )
    for name, fault in FAULTS:
        stock = fault(True)  # type: ignore[operator]
        ours = fault(False)  # type: ignore[operator]
        rows.append((name, "fault", stock[:2], ours[:2]))
    return rows


def main(out: Any = sys.stdout) -> int:
    """
    Print the table as Markdown.

    @return: 0 if ours passed every scenario, else 1.
    """
    rows = compare()
    out.write("| scenario | ref | stock EPollReactor | ours |\n|---|---|---|---|\n")
    for name, reference, stock, ours in rows:
        out.write(
            "| {} | {} | {} {} | {} {} |\n".format(
                name,
                reference,
                "PASS" if stock[0] else "FAIL",
                stock[1],
                "PASS" if ours[0] else "FAIL",
                ours[1],
            )
        )
    return 0 if all(ours[0] for _, _, _, ours in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
