"""From a hung engine to the fallback's answer, and back, with an environment's own gateway settings.

    gpt-oss-platform bench hang [--env prod] [--repeat 3] [--out bench/results]

A hung engine accepts requests and never answers while its /health stays up (vllm #39863). The
benchmark starts two fake upstreams (tests/serving/fake_openai.py) and a real gateway (its own
server on uvloop, tests/serving/harness.py RunningGateway) on 127.0.0.1 with the environment's
gateway settings exactly as the chart writes them (infra/gateway_settings.py, unscaled; only the
addresses and the secret files are local: tests/serving/hang.py). Each round:
1. a request is answered by the primary (progress was seen a moment before the hang: the case
   where the prober used to skip probes);
2. the primary hangs (`t = 0`); a JSON request and a stream are sent at once, JSON requests at
   +5, +10 and +25 s (the instants of issue #19's drill);
3. each is timed from the hang's start to its complete answer, and from its own sending, with who
   served it and why;
4. once every answer is in, the primary is restarted (its stuck connections drop, the new process
   answers: what a liveness restart or a replaced pod looks like) and requests are sent every
   50 ms until one is served by the primary again: the recovery time.
Goal (issue #16): every request answered by the fallback within 20 s of the hang, JSON and
stream; one sent later than that (+25 s) within 1 s of being sent (the primary is known hung then). Writes bench/results/hang.json and hang.md with the machine; the table goes into
docs/gateway.md (`gpt-oss-platform reference --write`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.machine import machine
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.hang import environment_gateway_settings, primary_settings
from tests.serving.harness import KEYS, MANAGED_API_KEY, PUBLIC_MODEL, RunningGateway, wait_until, write_secrets

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 20.0
# A request sent after the goal's 20 s finds the primary known hung: it must go to the fallback at
# once, not wait on the primary at all.
AT_ONCE_S = 1.0
# (name, seconds after the hang began, stream)
REQUESTS = [
    ("JSON at the hang", 0.0, False),
    ("stream at the hang", 0.0, True),
    ("JSON at +5 s", 5.0, False),
    ("JSON at +10 s", 10.0, False),
    ("JSON at +25 s", 25.0, False),
]
RECOVERY_POLL_S = 0.05


def _send(base_url: str, stream: bool, timeout: float) -> httpx.Response:
    payload: dict[str, Any] = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
    if stream:
        payload["stream"] = True
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        # The body is read whole: a stream counts once its last event arrived.
        return client.post("/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {KEYS['app']}"})


def one_round(gateway: RunningGateway, primary: FakeOpenAI, timeout: float) -> dict[str, Any]:
    health = gateway.upstream("self-hosted").health
    wait_until(lambda: health.ready is True, timeout=60)
    warm = _send(gateway.base_url, False, timeout)
    if warm.headers.get("x-gateway-served-by") != "self-hosted":
        raise RuntimeError("the primary did not serve the request before the hang: the round is void")
    primary.set("hang")
    hang = time.monotonic()
    results: dict[str, dict[str, Any]] = {}

    def request(name: str, at: float, stream: bool) -> None:
        time.sleep(max(0.0, hang + at - time.monotonic()))
        try:
            response = _send(gateway.base_url, stream, timeout)
            results[name] = {
                "seconds_from_hang": round(time.monotonic() - hang, 2),
                "seconds_waited": round(time.monotonic() - hang - at, 2),
                "status": response.status_code,
                "served_by": response.headers.get("x-gateway-served-by"),
                "fallback_reason": response.headers.get("x-gateway-fallback-reason"),
            }
        except httpx.HTTPError as error:
            results[name] = {"seconds_from_hang": round(time.monotonic() - hang, 2), "error": type(error).__name__}

    threads = [threading.Thread(target=request, args=spec, name=spec[0]) for spec in REQUESTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    not_ready_at = None if health.ready is not False else "before the last answer"
    # The engine is restarted: its stuck connections drop and the new process answers.
    primary.set("refuse")
    primary.set("ok")
    back = time.monotonic()
    recovery = None
    while time.monotonic() - back < 60:
        response = _send(gateway.base_url, False, timeout)
        if response.headers.get("x-gateway-served-by") == "self-hosted":
            recovery = round(time.monotonic() - back, 2)
            break
        time.sleep(RECOVERY_POLL_S)
    return {"requests": results, "primary_not_ready": not_ready_at, "recovery_s": recovery}


def measure(env: str, repeat: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    primary = FakeOpenAI("self-hosted", record=False).start()
    managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY, record=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-hang-") as work:
            clients_file, key_file = write_secrets(Path(work))
            settings = environment_gateway_settings(env, primary.base_url, managed.base_url, clients_file, key_file)
            settings["log_level"] = "WARNING"
            settings["access_log"] = False
            gateway = RunningGateway(settings).start()
            try:
                timeout = primary_settings(settings)["response_timeout_s"] + 10
                rounds = [one_round(gateway, primary, timeout) for _ in range(repeat)]
            finally:
                gateway.stop()
    finally:
        primary.stop()
        managed.stop()
    upstream = primary_settings(settings)
    used = {
        "first_byte_timeout_s": upstream["first_byte_timeout_s"],
        "response_timeout_s": upstream["response_timeout_s"],
        "probe_interval_s": upstream["readiness"]["interval_s"],
        "probe_timeout_s": upstream["readiness"]["timeout_s"],
        "probe_failures_to_unready": upstream["readiness"]["failures_to_unready"],
        "replay_maybe_processed": settings.get("retry", {}).get("replay_maybe_processed", True),
    }
    return rounds, used


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    rows = {}
    for name, at, _ in REQUESTS:
        answers = [r["requests"].get(name, {}) for r in rounds]
        seconds = [a["seconds_from_hang"] for a in answers if "seconds_from_hang" in a]
        waited = [a["seconds_waited"] for a in answers if "seconds_waited" in a]
        served = sorted({str(a.get("served_by")) for a in answers})
        reasons = sorted({str(a.get("fallback_reason")) for a in answers})
        in_time = max(seconds) <= GOAL_S if at < GOAL_S else max(waited) <= AT_ONCE_S
        rows[name] = {
            "sent_at_s": at,
            "median_s": round(statistics.median(seconds), 2),
            "max_s": max(seconds),
            "max_waited_s": max(waited),
            "goal": f"<= {GOAL_S:g} s from the hang" if at < GOAL_S else f"<= {AT_ONCE_S:g} s from sending",
            "served_by": served,
            "fallback_reason": reasons,
            "meets_goal": in_time and served == ["managed"] and all(a.get("status") == 200 for a in answers),
        }
    recoveries = [r["recovery_s"] for r in rounds]
    recovered = [s for s in recoveries if s is not None]
    return {
        "requests": rows,
        "recovery": {
            "median_s": round(statistics.median(recovered), 2) if recovered else None,
            "max_s": max(recovered) if recovered else None,
            "all_recovered": len(recovered) == len(recoveries),
        },
    }


def render_markdown(result: dict[str, Any]) -> str:
    """The table docs/gateway.md quotes (its `hang-bench` block)."""
    m, s, used = result["machine"], result["summary"], result["settings"]
    rows = "\n".join(
        f"| {name} | {row['median_s']:.2f} | {row['max_s']:.2f} | {row['max_waited_s']:.2f} | "
        f"{', '.join(row['served_by'])} | {', '.join(row['fallback_reason'])} | {row['goal']} | "
        f"{'yes' if row['meets_goal'] else 'no'} |"
        for name, row in s["requests"].items()
    )
    rec = s["recovery"]
    recovery = (
        f"Recovery, from the restarted primary listening again to the first request it serves (requests every "
        f"{RECOVERY_POLL_S * 1000:g} ms): median {rec['median_s']:.2f} s, max {rec['max_s']:.2f} s"
        + ("." if rec["all_recovered"] else "; some rounds never recovered within 60 s.")
        if rec["median_s"] is not None
        else "Recovery: the primary never served again within 60 s."
    )
    return (
        f"# Hung engine to fallback\n\nMeasured {result['measured_at']} on {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}; {result['repeats']} rounds with `{result['command']}`: seconds from the primary "
        f"hanging (accepting requests, never answering) to each request's complete answer, with {result['env']}'s "
        f"gateway settings as the chart writes them (first-byte timeout {used['first_byte_timeout_s']:g} s, JSON "
        f"response timeout {used['response_timeout_s']:g} s, probe every {used['probe_interval_s']:g} s with its "
        f"own {used['probe_timeout_s']:g} s timeout, {used['probe_failures_to_unready']} failed probes to not "
        f"ready), a gateway and two fake upstreams on 127.0.0.1. A request meets the goal when in every round "
        f"the fallback answered it with 200 within the goal.\n\n"
        f"| request | answered, median s from the hang | max s from the hang | max s waited | served by | "
        f"fallback reason | goal | met? |\n|---|---|---|---|---|---|---|---|\n{rows}\n\n{recovery}\n"
    )


def main(argv: list[str] | None = None) -> int:
    description = __doc__.splitlines()[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="gpt-oss-platform bench hang", description=description)
    parser.add_argument("--env", default="prod", help="environment whose gateway settings are used (default: prod)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (hang, answers, recovery); about 30 s each")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the results go")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    rounds, used = measure(args.env, args.repeat)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"gpt-oss-platform bench hang --env {args.env} --repeat {args.repeat}",
        "machine": machine(),
        "env": args.env,
        "repeats": args.repeat,
        "goal_s": GOAL_S,
        "settings": used,
        "summary": summarise(rounds),
        "rounds": rounds,
    }
    result["meets_goal"] = all(r["meets_goal"] for r in result["summary"]["requests"].values())
    args.out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(result)
    (args.out / "hang.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "hang.md").write_text(markdown)
    print(markdown)
    print(f"wrote {args.out / 'hang.json'} and {args.out / 'hang.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
