"""Validation of what a user hands gpucredit: one function per kind of input, each raising :class:`InputError`
with one line that names the field and says what is allowed.

The command line, scenario files, rosters and study files all go through these functions, so the same input is
refused the same way wherever it is given. Nothing here writes anything; the scheduler check opens (and closes)
one TCP connection.
"""

from __future__ import annotations

import math
import os
import re
import socket
import stat
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

MAX_TOML_BYTES = 1_000_000  # a scenario or study file is a few kB; anything near this is not one
MAX_COUNT = 10_000_000  # seeds, runs, workers, repeats: far beyond what a machine can run
SCHEDULER_TIMEOUT_S = 5.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InputError(ValueError):
    """Bad input: reported as one line naming the field and the allowed values (exit status 2)."""


def count(value: Any, field: str, low: int = 1, high: int = MAX_COUNT) -> int:
    """A whole number of things (seeds, workers, runs, repeats) in ``[low, high]``."""
    allowed = f"expected an integer from {low:,} to {high:,}"
    if isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is not a number; {allowed}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{field}: {value!r} is not a number; {allowed}") from None
    if not math.isfinite(number) or number != int(number):
        raise InputError(f"{field}: {value!r} is not an integer; {allowed}")
    if not low <= number <= high:
        raise InputError(f"{field}: {int(number):,} is out of range; {allowed}")
    return int(number)


def months(value: Any, field: str = "--months") -> int:
    """A number of simulated months, within the declared range of the parameter ``run.months``."""
    from .parameters import BY_NAME

    declared = BY_NAME["run.months"]
    return count(value, field, int(declared.min), int(declared.max))


def toml_file(path: str | os.PathLike, field: str, max_bytes: int = MAX_TOML_BYTES) -> str:
    """The text of a ``.toml`` file: a regular file (not a device, pipe or directory) of at most ``max_bytes``.

    The file is checked before it is opened and read with a bound, so ``/dev/zero`` or a FIFO named ``x.toml``
    is refused instead of hanging or filling memory."""
    path = Path(path)
    if path.suffix != ".toml":
        raise InputError(f"{field}: '{path}' is not a .toml file; expected a path ending in .toml")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{field}: '{path}' cannot be read ({exc.strerror}); expected a readable .toml file") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{field}: '{path}' is not a regular file; expected a .toml file of at most "
                         f"{max_bytes:,} bytes")
    if info.st_size > max_bytes:
        raise InputError(f"{field}: '{path}' has {info.st_size:,} bytes; expected a .toml file of at most "
                         f"{max_bytes:,} bytes")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{field}: '{path}' cannot be read ({exc.strerror}); expected a readable .toml file") from None
    if len(data) > max_bytes:
        raise InputError(f"{field}: '{path}' has more than {max_bytes:,} bytes; expected a .toml file of at most "
                         f"{max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{field}: '{path}' is not UTF-8 text; expected a .toml file") from None


def agent_names(names: Iterable[Any], field: str) -> list[str]:
    """Names of agents: non-empty strings without control characters, no two alike (an agent's name is its
    identity in the financial network, so two agents with one name would merge into one node)."""
    names = list(names)
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.strip() or _CONTROL.search(name):
            raise InputError(f"{field}: {name!r} is not an agent name; expected a non-empty string without "
                             f"control characters")
        if name in seen:
            raise InputError(f"{field}: two agents would be named '{name}'; expected unique names")
        seen.add(name)
    return names


def path_text(value: Any, field: str) -> str:
    """A file-system path given by the user: non-empty, no control characters (newlines and the like would break
    one-line messages and the CSV files that record paths). Glob characters (``[``, ``*``, ``?``) are allowed:
    code that hands a path to a glob escapes them."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{field}: {value!r} is not a path; expected a non-empty path")
    if _CONTROL.search(text):
        raise InputError(f"{field}: {text!r} contains a control character; expected a path without control "
                         f"characters")
    return text


def scheduler_address(address: Any, field: str = "--scheduler", timeout: float = SCHEDULER_TIMEOUT_S) -> str:
    """A Dask scheduler address ``tcp://HOST:PORT`` that accepts a TCP connection now."""
    allowed = "expected tcp://HOST:PORT of a running Dask scheduler"
    text = path_text(address, field)
    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InputError(f"{field}: '{text}' is not an address; {allowed}") from None
    if parts.scheme not in ("tcp", "tls") or not host or port is None or port == 0:
        raise InputError(f"{field}: '{text}' is not an address; {allowed}")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{field}: no scheduler answers at '{text}' ({reason}); {allowed}") from None
    return text
