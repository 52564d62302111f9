"""The kernel command line, split the way the kernel splits it.

Models ``next_arg()`` and ``parse_args()`` in kernel/params.c:

* parameters are separated by white space outside double quotes;
* ``param=value`` splits at the first ``=`` (an ``=`` in position 0 does not
  count, so ``=x`` is a parameter with no value);
* a leading quote on the parameter, and quotes around the value, are removed;
* a bare ``--`` ends the kernel's parameters: everything after it is handed to
  init (kernel/params.c parse_args, since v4.0 [release unverified]);
* every occurrence is kept in order: early parameters such as ``mem=`` and
  ``memmap=`` run once per occurrence, left to right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from earlymem.lib.errors import InputError
from earlymem.lib.units import memparse, parse_integer

__all__ = ["CommandLine", "split_args"]

_SPACE = " \t\n\v\f\r"


def split_args(text: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Split ``text`` into ``(param, value)`` pairs and the arguments for init.

    :return: the kernel's parameters in order, and the words after ``--``.
    """
    params: list[tuple[str, str | None]] = []
    s = text.lstrip(_SPACE)
    while s:
        quoted = in_quote = False
        if s[0] == '"':
            s = s[1:]
            quoted = in_quote = True
        equals = 0
        i = 0
        while i < len(s):
            c = s[i]
            if c in _SPACE and not in_quote:
                break
            if equals == 0 and c == "=":
                equals = i
            if c == '"':
                in_quote = not in_quote
            i += 1
        word, rest = s[:i], s[i + 1 :] if i < len(s) else ""
        if quoted and word.endswith('"'):
            word = word[:-1]
        if equals and equals < len(word) + 1:
            param, value = word[:equals], word[equals + 1 :]
            if value.startswith('"'):
                value = value[1:]
                if value.endswith('"'):
                    value = value[:-1]
        else:
            param, value = word, None
        if value is None and param == "--":
            return params, rest.split()
        params.append((param, value))
        s = rest.lstrip(_SPACE)
    return params, []


@dataclass(frozen=True)
class CommandLine:
    """A kernel command line.

    :param text: the line exactly as the kernel printed it (``Command line: ...``).
    """

    text: str

    def __post_init__(self) -> None:
        params, init_args = split_args(self.text)
        object.__setattr__(self, "_params", tuple(params))
        object.__setattr__(self, "_init_args", tuple(init_args))

    def params(self) -> Iterator[tuple[str, str | None]]:
        """Every kernel parameter as ``(name, value)``, in order (value None if no ``=``)."""
        return iter(self._params)  # type: ignore[attr-defined]

    @property
    def init_args(self) -> tuple[str, ...]:
        """Arguments after ``--``, passed to init."""
        return self._init_args  # type: ignore[attr-defined]

    def get_all(self, name: str) -> list[str | None]:
        """Values of every occurrence of ``name``, in order."""
        return [v for p, v in self._params if _parameq(p, name)]  # type: ignore[attr-defined]

    def get(self, name: str) -> str | None:
        """Value of the last occurrence of ``name`` (None if absent or bare)."""
        values = self.get_all(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        """True if ``name`` occurs at all (with or without a value)."""
        return bool(self.get_all(name))

    def size(self, name: str, suffixes: str = "KMGTPE") -> int | None:
        """The last ``name=`` value read as a whole memparse size (``mem=4G``).

        :return: None if the parameter is absent.
        :raises InputError: if the value is not exactly one size.
        """
        value = self.get(name)
        if value is None:
            return None
        r = memparse(value, 0, suffixes)
        if r.end == 0 or r.end != len(value):
            raise InputError(f"{name}={value} is not a size", field=name)
        return r.value

    def integer(self, name: str) -> int | None:
        """The last ``name=`` value as an integer (C base detection: ``0x``, ``0``).

        :raises InputError: if the value is not exactly one number.
        """
        value = self.get(name)
        if value is None:
            return None
        r = parse_integer(value)
        if r.end == 0 or r.end != len(value):
            raise InputError(f"{name}={value} is not a number", field=name)
        return r.value

    def leading_number(self, name: str) -> int | None:
        """The number a ``name=`` value starts with, as simple_strtoul() /
        get_option() read it (trailing text ignored); None if the parameter
        is absent or bare, starts with no digit, or overflows 64 bits."""
        value = self.get(name)
        if not value:
            return None
        try:
            r = parse_integer(value)
        except InputError:
            return None
        return r.value if r.end else None

    def flag(self, name: str) -> bool:
        """True if ``name`` is present as a bare word (``nokaslr``)."""
        return any(_parameq(p, name) and v is None for p, v in self._params)  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.text


def _parameq(a: str, b: str) -> bool:
    """kernel/params.c parameq(): ``-`` and ``_`` compare equal."""
    return a.replace("-", "_") == b.replace("-", "_")
