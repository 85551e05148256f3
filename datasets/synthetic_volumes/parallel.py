"""Run one task per item over `max_workers` processes, with a progress bar.

Each task writes its own output and returns a small summary, so nothing big
crosses process boundaries; the first failure stops the run with its message
(a `ValueError` naming the input). Processes are spawned, not forked: the
parent may hold threads (the progress bar's monitor) that a fork would copy.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm import tqdm

_SHARED: object = None


def _share(value: object) -> None:
    global _SHARED
    _SHARED = value


def _call(task: Callable, item: object) -> object:
    return task(item, _SHARED)


def run_tasks(task: Callable, items: Iterable, max_workers: int, desc: str,
              progress: bool = True, shared: object = None) -> list:
    """[task(item, shared) for item in items], in item order; `shared` (say, the template
    list) reaches each worker process once, not with every item. One worker runs here."""
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="item", file=sys.stderr, disable=not progress)
    results: list = [None] * len(items)
    with bar:
        if max_workers <= 1 or len(items) <= 1:
            for position, item in enumerate(items):
                results[position] = task(item, shared)
                bar.update()
            return results
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(max_workers, len(items)), mp_context=context,
                                 initializer=_share, initargs=(shared,)) as pool:
            futures = {pool.submit(_call, task, item): position
                       for position, item in enumerate(items)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return results
