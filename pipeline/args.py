"""Argument parsing shared by the ``matchtag`` commands: strict, with short errors.

No abbreviations (``--out`` never silently stands for ``--output``). An unknown option
is refused with the closest known one named. An error is one ``matchtag: error:`` line
and one usage line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterable

RUN_USAGE = "matchtag run [INPUT ...] --output DIR [options] [beam options]"


class UsageError(ValueError):
    """Bad command-line arguments or manifest; the message says which."""

    show_usage = True   # a usage line helps with a mistyped command, not with a bad folder


class SetupError(UsageError):
    """The command is right but the machine is not (an unusable ``--output``): one line, exit 2."""

    show_usage = False


def _display_name(action: argparse.Action) -> str:
    """The spelling shown to users: the hyphenated form where an option has one."""
    return next((o for o in action.option_strings if "-" in o[2:]), action.option_strings[0])


def _norm(flag: str) -> str:
    return flag.split("=", 1)[0].lower().replace("_", "-")


def option_names(parsers: Iterable[argparse.ArgumentParser]) -> dict[str, str]:
    """Every option string of ``parsers`` -> the spelling shown to users for its option."""
    names: dict[str, str] = {}
    for parser in parsers:
        for action in parser._actions:
            for option in action.option_strings:
                names.setdefault(option, _display_name(action))
    return names


def unknown_option_message(unknown: list[str], names: dict[str, str]) -> str:
    """``unknown option --max-frmes (did you mean --max-frames?)``, for each unknown flag.

    ``names``: known option string -> display name (:func:`option_names`). Closeness
    ignores case and ``_`` versus ``-``; the cutoff keeps far-fetched suggestions out
    (``--frobnicate`` gets none).
    """
    normalised: dict[str, str] = {}
    for option, display in names.items():
        normalised.setdefault(_norm(option), display)
    parts = []
    for flag in unknown:
        close = difflib.get_close_matches(_norm(flag), list(normalised), n=1, cutoff=0.75)
        hint = f" (did you mean {normalised[close[0]]}?)" if close else ""
        parts.append(f"unknown option {flag.split('=', 1)[0]}{hint}")
    return "; ".join(parts)


def short_usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().split())


class StrictParser(argparse.ArgumentParser):
    """An ArgumentParser for a ``matchtag`` command (its sub-commands are StrictParsers too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)   # for error(); sub-commands get theirs
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        used = self._parsers_used(namespace)
        flags = [e for e in extras if e.startswith("-")]
        if flags:   # reported with the usage of the sub-command that was given
            used[-1].error(unknown_option_message(flags, option_names(used)))
        if extras:
            used[-1].error(f"unexpected argument {extras[0]!r}")
        return namespace

    def _parsers_used(self, namespace) -> list[argparse.ArgumentParser]:
        """This parser and the sub-command parsers that ``namespace`` went through."""
        used = [self]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(namespace, action.dest, None) or "")
                if isinstance(chosen, StrictParser):
                    used += chosen._parsers_used(namespace)
        return used

    def _unknown_flags(self) -> list[str]:
        """Flags of this (leaf) parser's arguments that it does not know."""
        if any(isinstance(a, argparse._SubParsersAction) for a in self._actions):
            return []   # the rest of the line belongs to a sub-command: it checks its own
        return [a for a in getattr(self, "_argv", []) if a.startswith("-") and a != "--"
                and a.split("=", 1)[0] not in self._option_string_actions
                and not self._negative_number_matcher.match(a)]

    def error(self, message):
        unknown = self._unknown_flags()
        if unknown:
            # argparse reports a missing required option before an unknown one, so that
            # `--tag x` would read "--tags is required": name the misspelling instead.
            message = unknown_option_message(unknown, option_names([self]))
        print(f"matchtag: error: {message}\n{short_usage(self)}   ({self.prog} --help)", file=sys.stderr)
        sys.exit(2)
