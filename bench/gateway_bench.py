"""Gateway benchmark: what the gateway adds over calling the upstream directly, next to nginx
(the physical floor of a proxy) and the LiteLLM proxy with the same upstreams, and what happens
when the primary dies.

    gpt-oss-platform bench gateway --out bench/results      (make bench)

One run, one machine, one harness for every target:
- a fast local fake upstream (tests/serving/fake_openai.py, uvloop + httptools) in its own process;
- `direct`: the load generator calls the fake itself: the floor every proxy is measured from;
- `nginx`: nginx as a plain reverse proxy (one worker, keep-alive upstream), when nginx is
  installed (`apt-get install nginx`); the table says so when it is not;
- `gateway`: `python -m serving.gateway`, settings derived from the prod environment config;
- `litellm`: `litellm --config ...` 1.106.2 from bench/litellm (installed here with the project's
  own uv, `.uv/bin/uv sync --frozen --project bench/litellm`, if missing), one worker, defaults,
  offline.
Each (concurrency, mode) cell runs every target back to back for the same time after a warm-up;
overhead = target percentile - direct percentile. Non-streaming: latency of the whole answer.
Streaming: time to the first event. CPU per request: the CPU seconds the target's processes
used during the cell over the requests it answered. The whole measurement is repeated
(`--repeat`) and the table gives the median and the range over the repeats, because this machine
is shared and one run moves by tens of percent. Failover: the primary's process is SIGKILLed
under load. Results: bench/results/gateway-<date>.json and bench/results/gateway.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import uvloop

from bench.gateway_report import goals, markdown, summarise
from bench.machine import machine
from infra.config import environment_from_stack_file
from infra.gateway_settings import settings_for_environment
from serving.gateway.auth import hash_key

ROOT = Path(__file__).resolve().parents[1]
LITELLM_PROJECT = ROOT / "bench" / "litellm"
MODEL = "gpt-oss-120b"
FALLBACK_MODEL = "o4-mini"
CLIENT_KEY = "sk-bench-client-3b7d1e9f5a2c4680"
MANAGED_KEY = "sk-bench-managed-0f9e8d7c6b5a4321"
LITELLM_MASTER_KEY = "sk-bench-litellm-master-1234"
LITELLM_VERSION = "1.106.2"  # bench/litellm/pyproject.toml
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello in five words."}]}).encode()
STREAM_BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Say hello in five words."}], "stream": True}
).encode()


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A server in its own process group, output to a log file, stopped on exit."""

    def __init__(self, name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (the process writes it until stop() closes it)
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def wait_http(self, url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} not up at {url} after {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """Abrupt death (SIGKILL): what a preempted node or an OOM-killed engine looks like."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def start_fake(stack: ExitStack, logs: Path, name: str, port: int) -> Process:
    proc = Process(name, [sys.executable, "-m", "tests.serving.fake_openai", "--port", str(port), "--name", name], logs)
    stack.callback(proc.stop)
    proc.wait_http(f"http://127.0.0.1:{port}/health")
    return proc


def start_gateway(stack: ExitStack, logs: Path, work: Path, primary: int, managed: int, port: int) -> Process:
    settings = settings_for_environment(environment_from_stack_file("prod"), primary_base_url=f"http://127.0.0.1:{primary}/v1")
    (work / "clients.json").write_text(
        json.dumps({"clients": [{"name": "bench", "team": "bench", "key_sha256": hash_key(CLIENT_KEY)}]})
    )
    (work / "managed-key").write_text(MANAGED_KEY)
    # The shared store is never on the request path (it exchanges counters in the background), so
    # the benchmark runs without one.
    # Nor is there a Kubernetes API here for the drain switch to watch (it is off the request path too).
    settings.update(host="127.0.0.1", port=port, clients_file=str(work / "clients.json"), shared_store=None, route_override=None)
    # The /metrics listener on a free port too: several benchmarks may run on one machine.
    settings["metrics"] = {**settings.get("metrics", {}), "port": free_port()}
    for upstream in settings["upstreams"]:
        if upstream["name"] == "managed":
            upstream.update(base_url=f"http://127.0.0.1:{managed}/v1", api_key_file=str(work / "managed-key"))
    config = work / "gateway.json"
    config.write_text(json.dumps(settings, indent=2))
    proc = Process("gateway", [sys.executable, "-m", "serving.gateway", "--config", str(config)], logs)
    stack.callback(proc.stop)
    proc.wait_http(f"http://127.0.0.1:{port}/readyz")
    return proc


class BenchError(Exception):
    """The benchmark cannot run; the message says what to do."""


def find_uv() -> str:
    """The project's own uv (the Makefile installs it under .uv/), else one on PATH."""
    for candidate in (ROOT / ".uv" / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise BenchError("uv is not installed: run `make venv` (it installs uv under .uv/) or put uv on PATH")


def ensure_litellm() -> Path:
    exe = LITELLM_PROJECT / ".venv" / "bin" / "litellm"
    if not exe.exists():
        subprocess.run([find_uv(), "sync", "--frozen", "--project", str(LITELLM_PROJECT)], check=True)
    return exe


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def nginx_version(exe: str) -> str:
    out = subprocess.run([exe, "-v"], capture_output=True, text=True).stderr.strip()
    return out.split("/", 1)[1] if "/" in out else out


NGINX_CONF = """
worker_processes 1;
error_log {work}/nginx-error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-tmp/body;
  proxy_temp_path {work}/nginx-tmp/proxy;
  fastcgi_temp_path {work}/nginx-tmp/fastcgi;
  uwsgi_temp_path {work}/nginx-tmp/uwsgi;
  scgi_temp_path {work}/nginx-tmp/scgi;
  upstream fake {{ server 127.0.0.1:{upstream}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def start_nginx(stack: ExitStack, logs: Path, work: Path, exe: str, upstream: int, port: int) -> Process:
    """nginx as a plain reverse proxy: no auth, no parsing, keep-alive to the upstream."""
    (work / "nginx-tmp").mkdir(mode=0o777, exist_ok=True)
    (work / "nginx-tmp").chmod(0o777)  # workers may run as an unprivileged user
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, upstream=upstream, port=port))
    proc = Process("nginx", [exe, "-p", str(work), "-c", str(conf), "-g", "daemon off;"], logs)
    stack.callback(proc.stop)
    proc.wait_http(f"http://127.0.0.1:{port}/health")
    return proc


def start_litellm(stack: ExitStack, logs: Path, work: Path, primary: int, managed: int, port: int) -> Process:
    # The same two upstreams and the same fallback as the gateway; everything else default.
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": f"http://127.0.0.1:{primary}/v1",
                    "api_key": "none",
                },
            },
            {
                "model_name": FALLBACK_MODEL,
                "litellm_params": {
                    "model": f"openai/{FALLBACK_MODEL}",
                    "api_base": f"http://127.0.0.1:{managed}/v1",
                    "api_key": MANAGED_KEY,
                },
            },
        ],
        "router_settings": {"fallbacks": [{MODEL: [FALLBACK_MODEL]}]},
    }
    path = work / "litellm.json"  # YAML is a superset of JSON
    path.write_text(json.dumps(config))
    env = {"LITELLM_MASTER_KEY": LITELLM_MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = Process(
        "litellm", [str(ensure_litellm()), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)], logs, env
    )
    stack.callback(proc.stop)
    proc.wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    return proc


# -- load ---------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    key: str
    # Process group whose CPU time is charged to this target (None: the load generator itself).
    pgid: int | None = None


@dataclass
class Cell:
    target: str
    concurrency: int
    mode: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None = None
    repeat: int = 0


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group `pgid` (/proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp, ... utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_request(
    session: aiohttp.ClientSession, target: Target, stream: bool
) -> tuple[float, dict | None, bool, str | None]:
    """(seconds to the measured byte, parsed answer or None, ok, the gateway's fallback reason)."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {target.key}", "Content-Type": "application/json"}
    async with session.post(target.url, data=STREAM_BODY if stream else BODY, headers=headers) as response:
        if stream:
            first = None
            async for chunk in response.content.iter_any():
                if first is None and b"data:" in chunk:
                    first = time.perf_counter()
            return (first or time.perf_counter()) - started, None, response.status == 200 and first is not None, None
        body = await response.read()
        elapsed = time.perf_counter() - started
        ok = response.status == 200
        return elapsed, json.loads(body) if ok else None, ok, response.headers.get("x-gateway-fallback-reason")


async def run_cell(target: Target, concurrency: int, stream: bool, warmup_s: float, duration_s: float) -> Cell:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        start = time.perf_counter()
        measure_from, stop_at = start + warmup_s, start + warmup_s + duration_s

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                try:
                    elapsed, _, ok, _ = await one_request(session, target, stream)
                except (TimeoutError, aiohttp.ClientError, OSError):
                    elapsed, ok = 0.0, False
                if began >= measure_from:
                    if ok:
                        latencies.append(elapsed * 1000)
                    else:
                        errors += 1

        async def cpu_during_measurement() -> float | None:
            if target.pgid is None:
                return None
            await asyncio.sleep(warmup_s)
            before = await asyncio.to_thread(cpu_seconds, target.pgid)
            await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
            return await asyncio.to_thread(cpu_seconds, target.pgid) - before

        *_, cpu = await asyncio.gather(*(worker() for _ in range(concurrency)), cpu_during_measurement())
    return Cell(
        target.name,
        concurrency,
        "stream_ttft" if stream else "json",
        len(latencies),
        errors,
        round(len(latencies) / duration_s, 1),
        round(percentile(latencies, 0.5), 3),
        round(percentile(latencies, 0.9), 3),
        round(percentile(latencies, 0.99), 3),
        round(cpu * 1000 / len(latencies), 3) if cpu is not None and latencies else None,
    )


@dataclass
class Failover:
    target: str
    concurrency: int
    requests_after_kill: int
    lost: int
    time_to_first_fallback_ms: float | None
    # Gateway only (from x-gateway-fallback-reason): answers that began after the first fallback
    # answer and still paid for an attempt on the dead primary instead of skipping it.
    tried_primary_after_first_fallback: int | None
    time_to_return_ms: float | None


@dataclass
class Record:
    started: float
    ended: float
    ok: bool
    model: str | None
    reason: str | None


SKIPPED = {"not_ready", "circuit_open", "saturated"}


async def run_failover(
    target: Target, kill, restart, concurrency: int, before_s: float, after_s: float, back_s: float
) -> Failover:
    """Load, SIGKILL the primary, keep loading, restart it, keep loading; classify every answer."""
    records: list[Record] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        stop = False

        async def worker() -> None:
            while not stop:
                began = time.perf_counter()
                try:
                    _, answer, ok, reason = await one_request(session, target, stream=False)
                except (TimeoutError, aiohttp.ClientError, OSError):
                    answer, ok, reason = None, False, None
                records.append(Record(began, time.perf_counter(), ok, (answer or {}).get("model"), reason))

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(before_s)
        killed_at = time.perf_counter()
        await asyncio.to_thread(kill)
        await asyncio.sleep(after_s)
        restarted_at = await asyncio.to_thread(restart)
        await asyncio.sleep(back_s)
        stop = True
        await asyncio.gather(*workers)
    after = [r for r in records if r.ended >= killed_at]
    fallback = [r for r in after if r.ok and r.model == FALLBACK_MODEL]
    first_fallback = min((r.ended for r in fallback), default=None)
    tried_again = None
    if target.name == "gateway" and first_fallback is not None:
        tried_again = sum(1 for r in fallback if first_fallback < r.started < restarted_at and r.reason not in SKIPPED)
    back = [r.ended for r in records if r.started >= restarted_at and r.ok and r.model == MODEL]
    return Failover(
        target.name,
        concurrency,
        len(after),
        sum(1 for r in after if not r.ok),
        round((first_fallback - killed_at) * 1000, 1) if first_fallback else None,
        tried_again,
        round((min(back) - restarted_at) * 1000, 1) if back else None,
    )


# -- main ----------------------------------------------------------------------------------------


async def measure(targets: list[Target], concurrencies: list[int], warmup_s: float, duration_s: float, repeat: int) -> list[Cell]:
    cells = []
    for concurrency in concurrencies:
        for stream in (False, True):
            for target in targets:
                cell = await run_cell(target, concurrency, stream, warmup_s, duration_s)
                cell.repeat = repeat
                cpu = f"{cell.cpu_ms_per_request:.3f}" if cell.cpu_ms_per_request is not None else "-"
                print(
                    f"  [{repeat + 1}] {cell.target:8} c={concurrency:<3} {cell.mode:12} p50={cell.p50_ms:8.3f} ms "
                    f"p99={cell.p99_ms:8.3f} ms rps={cell.rps:8.1f} cpu={cpu} ms/req errors={cell.errors}",
                    flush=True,
                )
                cells.append(cell)
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpt-oss-platform bench gateway", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--duration", type=float, default=4.0, help="Measured seconds per cell.")
    parser.add_argument("--warmup", type=float, default=1.0, help="Unmeasured seconds before each cell.")
    parser.add_argument("--repeat", type=int, default=3, help="Repetitions of the whole measurement (spread).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--skip-litellm", action="store_true", help="No LiteLLM (quick checks).")
    parser.add_argument("--skip-failover", action="store_true", help="No failover scenario (quick checks).")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # a server that did not start: its log is named in the message
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    uvloop.install()
    nginx = find_nginx()
    started_at = dt.datetime.now(dt.UTC)
    load_at_start = os.getloadavg()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        work = Path(tmp)
        logs = work
        upstream, managed = free_port(), free_port()
        start_fake(stack, logs, "upstream", upstream)
        start_fake(stack, logs, "managed", managed)
        targets = [Target("direct", f"http://127.0.0.1:{upstream}/v1/chat/completions", "none")]
        if nginx is not None:
            port = free_port()
            proc = start_nginx(stack, logs, work, nginx, upstream, port)
            targets.append(Target("nginx", f"http://127.0.0.1:{port}/v1/chat/completions", "none", proc.proc.pid))
        else:
            print("nginx is not installed: no nginx column (`apt-get install nginx` adds it)", flush=True)
        port = free_port()
        proc = start_gateway(stack, logs, work, upstream, managed, port)
        targets.append(Target("gateway", f"http://127.0.0.1:{port}/v1/chat/completions", CLIENT_KEY, proc.proc.pid))
        if not args.skip_litellm:
            port = free_port()
            proc = start_litellm(stack, logs, work, upstream, managed, port)
            targets.append(Target("litellm", f"http://127.0.0.1:{port}/v1/chat/completions", LITELLM_MASTER_KEY, proc.proc.pid))
        print("overhead:", flush=True)
        cells = []
        for repeat in range(args.repeat):
            cells += asyncio.run(measure(targets, args.concurrency, args.warmup, args.duration, repeat))
        failovers = []
        if not args.skip_failover:
            print("failover:", flush=True)
            for name in ["gateway"] + ([] if args.skip_litellm else ["litellm"]):
                failovers.append(failover_scenario(name, work, logs))
                print(f"  {failovers[-1]}", flush=True)
    today = started_at.date().isoformat()
    result = {
        "date": today,
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_at_start": [round(x, 2) for x in load_at_start]},
        "litellm_version": "not run" if args.skip_litellm else LITELLM_VERSION,
        "nginx_version": nginx_version(nginx) if nginx else "not installed",
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeat": args.repeat,
            "concurrency": args.concurrency,
        },
        "cells": [asdict(c) for c in cells],
        "summary": summarise(cells),
        "failover": [asdict(f) for f in failovers],
    }
    result["goals"] = goals(result["summary"])
    (args.out / f"gateway-{today}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "gateway.md").write_text(markdown(result))
    print((args.out / "gateway.md").read_text())
    print(f"wrote {args.out / f'gateway-{today}.json'} and {args.out / 'gateway.md'}")
    return 0


def failover_scenario(name: str, work: Path, logs: Path, concurrency: int = 16) -> Failover:
    """A fresh primary, managed fake and proxy per target, so neither inherits the other's state."""
    with ExitStack() as stack:
        primary, managed, port = free_port(), free_port(), free_port()
        state = {"primary": start_fake(stack, logs, f"{name}-primary", primary)}
        start_fake(stack, logs, f"{name}-managed", managed)
        if name == "gateway":
            start_gateway(stack, logs, work, primary, managed, port)
            target = Target(name, f"http://127.0.0.1:{port}/v1/chat/completions", CLIENT_KEY)
        else:
            start_litellm(stack, logs, work, primary, managed, port)
            target = Target(name, f"http://127.0.0.1:{port}/v1/chat/completions", LITELLM_MASTER_KEY)

        def restart() -> float:
            """Start the primary again; returns when it first answered its health check."""
            state["primary"] = start_fake(stack, logs, f"{name}-primary-again", primary)
            return time.perf_counter()

        return asyncio.run(run_failover(target, lambda: state["primary"].kill(), restart, concurrency, 3.0, 4.0, 8.0))


if __name__ == "__main__":
    sys.exit(main())
