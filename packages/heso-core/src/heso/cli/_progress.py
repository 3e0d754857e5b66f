"""A progress line on stderr for work that takes a while, shown only on a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

DELAY = 1.0
"""Seconds of silence before the line appears: quick work prints nothing."""
INTERVAL = 0.5
"""Seconds between updates of the line."""


@contextmanager
def progress(label: str, *, stream: TextIO | None = None) -> Iterator[None]:
    """While the block runs, keep ``label… N s`` updated on one stderr line (when stderr is a
    terminal), and erase it afterwards so the result prints on a clean line."""
    out = stream if stream is not None else sys.stderr
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        yield
        return
    start = time.monotonic()
    done = threading.Event()
    shown = threading.Event()

    def draw() -> None:
        out.write(f"\r\x1b[2K{label}… {time.monotonic() - start:.0f} s")
        out.flush()
        shown.set()

    def run() -> None:
        if done.wait(DELAY):
            return
        while not done.is_set():
            draw()
            done.wait(INTERVAL)

    if DELAY <= 0:
        draw()
    thread = threading.Thread(target=run, name="heso-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown.is_set():
            out.write("\r\x1b[2K")
            out.flush()
