"""``pain3d`` command line: one subcommand per job, each a few lines over the library.

Every command module registers its parsers with ``register(subparsers)`` and imports heavy
libraries only inside its handlers, so ``pain3d --help`` answers instantly.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pain3d import __version__

# Modules under pain3d.cli that contribute subcommands, in help order.
COMMAND_MODULES: tuple[str, ...] = ("facs", "demo", "generate", "predict", "data", "model", "train")


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pain3d",
        description="Synthetic 3D pain faces and reference-based pain estimation.",
    )
    parser.add_argument("--version", action="version", version=f"pain3d {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"pain3d.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, FileNotFoundError, FileExistsError) as exc:
        # Library errors are written to be read by users: no traceback unless -v.
        if args.verbose:
            raise
        print(f"pain3d {args.command}: error: {exc}", file=sys.stderr)
        return 2
