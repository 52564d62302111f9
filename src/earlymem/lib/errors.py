"""Errors for bad input: one line that names the file and the line or field.

Every reader and parser raises :class:`InputError` for input it cannot accept;
the CLI prints ``str(error)`` on one line and exits with status 2.  No other
exception type is meant to escape for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InputError", "KernelPanic", "Panic", "EXIT_BAD_INPUT"]

#: Exit status of the CLI for any rejected input.
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Input that earlymem refuses, with where it was found.

    :param message: what is wrong, in one line.
    :param source: file name (or a label such as ``<command line>``).
    :param line: 1-based line number in ``source``, if the input is line based.
    :param field: the field or parameter name, if there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # never more than one line
        self.source = source
        self.line = line
        self.field = field

    def located(
        self, *, source: str | None = None, line: int | None = None, field: str | None = None
    ) -> "InputError":
        """Return a copy that fills in location details not already known."""
        return InputError(
            self.message,
            source=self.source or source,
            line=self.line if self.line is not None else line,
            field=self.field or field,
        )

    def __str__(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Panic:
    """Where the kernel panics on this input: a predicted outcome.

    :param message: what ``panic()`` prints after ``Kernel panic - not syncing: ``;
        None when a number in it is not known (``why`` says what).
    :param function: the kernel function that panics.
    :param why: plain words: what leads there.
    """

    message: str | None
    function: str
    why: str


class KernelPanic(Exception):
    """The kernel would panic on this (legal) input: raised by a phase, caught by
    the pipeline, which makes ``panic`` the boot's outcome (not an input error)."""

    def __init__(self, message: str | None, *, function: str, detail: str = "") -> None:
        super().__init__(message or detail)
        self.panic = Panic(message, function, detail)
