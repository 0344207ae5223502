"""``python -m bench``: start a fresh product server and a fresh floor server in turn, run the same
tests against each, print one table (product, floor, product ÷ floor) and whether each target is met.

    python -m bench                                  # the full run (what `make bench` does)
    python -m bench --write docs/performance.md      # …and write the table there (only `make bench`)
    python -m bench --preset smoke --json out.json   # a few chats for a few seconds (the pytest smoke test)
    python -m bench --tests steady,max --profile prof/   # sample daphne with py-spy while measuring
    python -m bench --target http://127.0.0.1:8000 --agent-login agent:agent --tests steady
                                                     # a server you started yourself (loopback only)
    python -m bench --only transcript                # End Chat to the email accepted by SMTP, alone

Exit status 0 when every test ran and nothing was lost or duplicated; missed speed targets are
reported, not fatal.
"""

import argparse
import asyncio
import datetime
import json
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from . import report
from .clients import BenchError, Budget, FloorDriver, ProductDriver, require_loopback
from .loadgen import PRESETS, TESTS, Sizes, run_tests
from .servers import FaultRig, ProcProbe, RedisServer, Server, drop_database, server_version
from .transcript import run_transcript

DEFAULT_POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DEFAULT_REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
DEFAULT_LIMIT_SECONDS = {"full": 840, "smoke": 200}
# The speed tests' product server tells its clients not to resync on a timer (CHAT_RESYNC_SECONDS=0),
# so that their figures stay comparable with the floor's, whose clients have no timer; every other rule
# of the cursor holds. The faults test's server keeps the product's default.
SPEED_SETTINGS = {"CHAT_RESYNC_SECONDS": "0"}
FLOOR_HAS_NO_FAULTS = "not run: the floor makes no delivery promise to test (bench/README.md)"
FLOOR_HAS_NO_EMAIL = "not run: the floor sends no email"
# Tests that are not the load generator's: run after the speed tests, on the product only.
OWN_RIGS = ("faults", "transcript")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full", help="sizes to start from")
    parser.add_argument("--servers", default="product,floor", help="which servers, in order")
    parser.add_argument("--tests", default=",".join(TESTS), help="which tests, comma-separated")
    parser.add_argument("--only", metavar="TESTS", help="these tests on the product alone "
                        "(--servers product --tests TESTS), e.g. --only transcript")
    sizes = parser.add_argument_group("sizes (override the preset)")
    for name, default in asdict(Sizes()).items():
        sizes.add_argument("--" + name.replace("_", "-"), type=type(default), default=None, metavar="N")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL, without a database")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL for the channel layer")
    parser.add_argument("--database-suffix", default=None,
                        help="the bench's databases are helpdesk_bench<suffix> and bench_floor<suffix> "
                             "(default: none; the smoke preset uses throwaway ones)")
    parser.add_argument("--limit-seconds", type=float, default=None, help="bound of the whole run (default by preset)")
    parser.add_argument("--limit-messages", type=int, default=200_000,
                        help="bound of message and draft frames sent to each server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--write", type=Path, help="write the table to this Markdown file (make bench only)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="sample daphne with py-spy into DIR")
    parser.add_argument("--target", help="load an already running server at this loopback URL instead")
    parser.add_argument("--target-kind", choices=["product", "floor"], default="product")
    parser.add_argument("--agent-login", action="append", default=[], metavar="USER:PASSWORD",
                        help="an agent login on --target (repeat for several)")
    parser.add_argument("--pid", type=int, help="--target's daphne pid, for CPU and memory figures")
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, flush=True)


def _redis_version(url: str) -> str:
    import redis

    try:
        return redis.Redis.from_url(url).info("server")["redis_version"]
    except Exception as exc:  # only for the report
        return f"? ({exc})"


def _run_one(driver, sizes, tests, *, probe, seed, profiler, alive, db_probe=None, faults=None):
    return asyncio.run(run_tests(driver, sizes, tests, probe=probe, rng=random.Random(seed), profiler=profiler,
                                 nonce=secrets.token_hex(3), alive=alive, log=_say, db_probe=db_probe,
                                 faults=faults))


def _faults_seconds(sizes) -> float:
    """What the faults test needs of the run's time bound: its stretches, and starting, opening and
    draining around them."""
    return (sizes.faults_before + sizes.faults_redis_down + sizes.faults_between + sizes.faults_after
            + 30 + sizes.faults_chats * 0.3)


def _run_speed(args, kind, sizes, tests, *, database, workdir, password, budget) -> dict:
    """A fresh database and a fresh daphne of ``kind`` for ``tests`` (all but faults), then stopped. The
    database is kept for the faults test."""
    server = Server(kind, postgres=args.postgres, redis=args.redis, database=database, workdir=workdir,
                    agents=sizes.agents, agent_password=password,
                    settings=SPEED_SETTINGS if kind == "product" else None)
    profiler = None
    if args.profile:
        from .profiling import Profiler

        profiler = Profiler(args.profile, lambda server=server: server.process.pid)
    _say(f"{kind}: fresh database {database}" + (f", daphne on {server.url}" if tests else ""))
    try:
        server.prepare()
        if not tests:
            return {}
        server.start()
        driver = (ProductDriver(server.url, budget, server.credentials) if kind == "product"
                  else FloorDriver(server.url, budget))
        return _run_one(driver, sizes, tests, probe=server.probe, seed=args.seed, profiler=profiler,
                        alive=server.alive, db_probe=server.db_probe)
    except BenchError as exc:
        _say(f"{kind}: {exc}\n{server.log_tail()}")
        return {"error": str(exc)}
    finally:
        server.stop()


def _run_faults(args, sizes, *, database, workdir, password, budget) -> dict:
    """The faults test on a product daphne of its own, on a Redis of its own (both killed in turn),
    on the product's benchmark database."""
    redis = RedisServer(workdir)
    server = Server("product", postgres=args.postgres, redis=redis.url, database=database, workdir=workdir,
                    agents=sizes.agents, agent_password=password, name="product-faults")
    _say(f"product: faults on daphne {server.url} with its own Redis on port {redis.port}")
    try:
        redis.start()
        server.start()
        driver = ProductDriver(server.url, budget, server.credentials)
        results = _run_one(driver, sizes, ["faults"], probe=server.probe, seed=args.seed, profiler=None,
                           alive=server.alive, faults=FaultRig(redis, server))
        return results["faults"]
    except BenchError as exc:
        _say(f"product faults: {exc}\n{server.log_tail()}")
        return {"error": str(exc)}
    finally:
        server.stop()
        redis.stop()


def _transcript_seconds(sizes) -> float:
    """What the transcript test needs of the run's time bound: the worker's start, making the chats,
    ending them at their rate, and the last emails' way out."""
    return 20 + sizes.transcript_chats * (0.3 + 1 / sizes.transcript_rate)


def _run_transcript(args, sizes, *, database, workdir, password) -> dict:
    """End Chat to the transcript email accepted by SMTP, through a real worker, on the product's
    benchmark database (bench/transcript.py)."""
    server = Server("product", postgres=args.postgres, redis=args.redis, database=database, workdir=workdir,
                    agents=sizes.agents, agent_password=password, name="product-transcript")
    try:
        return run_transcript(sizes, product_env=server.env(), redis_url=args.redis, workdir=workdir, log=_say)
    except BenchError as exc:
        _say(f"product transcript: {exc}")
        return {"error": str(exc)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.only:
        args.servers, args.tests = "product", args.only
    overrides = {k: getattr(args, k) for k in Sizes.names() if getattr(args, k) is not None}
    sizes = replace(PRESETS[args.preset], **overrides)
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(tests) - set(TESTS) | set(servers) - {"product", "floor"}
    if unknown:
        _say(f"unknown tests or servers: {', '.join(sorted(unknown))}")
        return 2
    max_seconds = args.limit_seconds or DEFAULT_LIMIT_SECONDS.get(args.preset, 840)
    # Smoke runs (the pytest suite, perhaps several at once) get databases of their own, dropped after.
    throwaway = args.database_suffix is None and args.preset == "smoke"
    suffix = f"_smoke_{os.getpid()}" if throwaway else (args.database_suffix or "")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    results = {
        "command": " ".join(["python -m bench", *argv]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "preset": args.preset, "sizes": asdict(sizes), "tests": tests, "servers": {},
        "versions": report.versions(), "machine": report.machine(), "workdir": str(workdir),
    }
    try:
        for url in (args.postgres, args.redis, *([args.target] if args.target else [])):
            require_loopback(url)
        results["postgres_version"] = server_version(args.postgres)
        results["redis_version"] = _redis_version(args.redis)
    except Exception as exc:
        _say(f"bench: {exc}")
        return 2
    _say(f"bench: {args.preset} run of {', '.join(tests)} on {', '.join(servers)}; logs in {workdir}")

    if args.target:
        kind = args.target_kind
        budget = Budget(args.limit_messages, max_seconds)
        credentials = [tuple(login.split(":", 1)) for login in args.agent_login]
        driver = (ProductDriver(args.target.rstrip("/"), budget, credentials) if kind == "product"
                  else FloorDriver(args.target.rstrip("/"), budget))
        probe = ProcProbe(args.pid) if args.pid else None
        if "transcript" in tests:
            _say("bench: the transcript test needs a worker and a database of the bench's own: not run on --target")
        results["servers"][kind] = _run_one(driver, sizes, [t for t in tests if t != "transcript"], probe=probe,
                                            seed=args.seed, profiler=None, alive=lambda: True)
    else:
        password = secrets.token_urlsafe(12)
        speed_tests = [t for t in tests if t not in OWN_RIGS]
        # The faults test runs last but one, on the product only, after both servers' other tests (it
        # kills things); then the transcript test, on the product only, with a worker of its own.
        faults = "faults" in tests and "product" in servers
        transcript = "transcript" in tests and "product" in servers
        reserve = (_faults_seconds(sizes) if faults else 0) + (_transcript_seconds(sizes) if transcript else 0)
        databases = {}
        try:
            for position, kind in enumerate(servers):
                seconds = (max_seconds - reserve - (time.monotonic() - started)) / (len(servers) - position)
                database = databases[kind] = ("helpdesk_bench" if kind == "product" else "bench_floor") + suffix
                results["servers"][kind] = _run_speed(args, kind, sizes, speed_tests, database=database,
                                                      workdir=workdir, password=password,
                                                      budget=Budget(args.limit_messages, seconds))
                if kind == "floor" and "faults" in tests and "error" not in results["servers"][kind]:
                    results["servers"][kind]["faults"] = {"not_run": FLOOR_HAS_NO_FAULTS}
                if kind == "floor" and "transcript" in tests and "error" not in results["servers"][kind]:
                    results["servers"][kind]["transcript"] = {"not_run": FLOOR_HAS_NO_EMAIL}
            product = results["servers"].get("product", {})
            if faults and "error" not in product:
                budget = Budget(args.limit_messages, max(max_seconds - (time.monotonic() - started), reserve / 2))
                product["faults"] = _run_faults(args, sizes, database=databases["product"], workdir=workdir,
                                                password=password, budget=budget)
            if transcript and "error" not in product:
                product["transcript"] = _run_transcript(args, sizes, database=databases["product"],
                                                        workdir=workdir, password=password)
                _say(f"  product: transcript: {report.transcript_brief(product['transcript'])}")
        finally:
            if throwaway:
                for database in databases.values():
                    drop_database(args.postgres, database)

    results["wall_seconds"] = time.monotonic() - started
    table = report.rows(results)
    _say("\n" + report.markdown_table(table) + "\n")
    for line in report.targets_summary(table):
        _say(line)
    for line in report.notes(results):
        _say(f"note: {line}")
    errors = report.errors_summary(results)
    for line in errors:
        _say(f"error: {line}")
    _say(f"\ntook {results['wall_seconds'] / 60:.1f} min; details in {workdir}")
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if args.write:
        report.write_doc(args.write, results)
        _say(f"wrote {args.write}")
    clean = not errors and all(
        isinstance(r, dict) and all(r.get(k, 0) == 0 for k in ("lost", "duplicated", "out_of_order",
                                                                "state_differences"))
        for tests_ in results["servers"].values() for r in tests_.values() if isinstance(r, dict)
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
