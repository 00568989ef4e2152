"""`mnn-conformance`: run the backend conformance suite.

    mnn-conformance --backend cpu --precision low -- -x -k Conv
    mnn-conformance --list
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(prog="mnn-conformance",
                                     description="Check a backend against the mnn reference kernels. "
                                                 "Arguments after -- go to pytest.")
    parser.add_argument("--backend", action="append", default=[], metavar="NAME",
                        help="backend to test (repeatable); default: every available backend")
    parser.add_argument("--precision", action="append", default=[], choices=["normal", "high", "low"],
                        help="session precision to test (repeatable); default: normal")
    parser.add_argument("--list", action="store_true", help="list installed backends and exit")
    args = parser.parse_args(argv)
    if args.list:
        from ..plugins import Context
        from .harness import backend_availability

        for name, why in backend_availability(Context()).items():
            print(f"{name:<16} {'available' if why is None else 'unavailable: ' + why}")
        return 0
    from . import run_conformance

    return run_conformance(args.backend or None, pytest_args, args.precision or None)


if __name__ == "__main__":
    sys.exit(main())
