"""A closed-loop HTTP load generator in processes of its own: ``concurrency`` clients, each
sending its next request when the last one answered, for ``seconds``; latencies per request."""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class Request:
    url: str
    headers: dict[str, str]
    body: bytes


def _client(requests_: list[Request], until: float, out: list[float], errors: list[int]) -> None:
    http = requests.Session()
    i = 0
    while time.perf_counter() < until:
        item = requests_[i % len(requests_)]
        i += 1
        began = time.perf_counter()
        answer = http.post(item.url, data=item.body, headers=item.headers, timeout=30)
        out.append(time.perf_counter() - began)
        if answer.status_code != 200:
            errors.append(answer.status_code)


def _process(per_client: list[list[Request]], seconds: float, queue: Any) -> None:
    until = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in per_client]
    errors: list[int] = []
    threads = [
        threading.Thread(target=_client, args=(reqs, until, latencies[n], errors))
        for n, reqs in enumerate(per_client)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(([x for lat in latencies for x in lat], errors))


def run(per_client: list[list[Request]], seconds: float, processes: int = 2) -> dict[str, Any]:
    """Drive the clients (one list of requests each, cycled) from ``processes`` processes."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shares = [per_client[n::processes] for n in range(processes)]
    workers = [
        context.Process(target=_process, args=(share, seconds, queue)) for share in shares if share
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors: list[int] = []
    for _ in workers:
        got, failed = queue.get()
        latencies += got
        errors += failed
    for worker in workers:
        worker.join()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else 0.0,
        "errors": len(errors),
        "error_statuses": sorted(set(errors)),
    }
