"""Keep the process's resident memory close to what it uses (glibc's allocator, on Linux).

glibc gives each thread that allocates its own heap ("arena"), up to eight per core, and keeps
freed memory in them for reuse. Kindred's threads (aiosqlite's database threads, the default
executor's workers) each grew an arena that stayed resident long after the work was done: a
simulated day of activity left about 10 MiB behind (bench/README.md, "Memory"). Two arenas
are plenty for a process that does its work on one event loop, and handing freed pages back
once a minute costs about a millisecond. Elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is None or not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
            return None
    except OSError:
        return None
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let threads started from now on share at most `arenas` heaps; return whether it applied."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> None:
    """Hand freed heap pages back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
