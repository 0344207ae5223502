"""The results table (product, floor, product ÷ floor), the targets, and docs/performance.md."""

import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ["Django", "channels", "channels-redis", "redis", "daphne", "Twisted", "autobahn", "psycopg",
            "psycopg-pool", "asgiref", "bleach", "Markdown", "websockets"]

# (test, key, label, format, target): target is (op, bound) on product ÷ floor, or None; a count
# ("{:,}") gets no ratio. The row "own drafts price" is computed, not read.
FIGURES = [
    ("steady", "p50_ms", "p50, ms", "{:,.1f}", None),
    ("steady", "p95_ms", "p95, ms", "{:,.1f}", None),
    ("steady", "p99_ms", "p99, ms", "{:,.1f}", ("<=", 1.5)),
    ("steady", "cpu_us_per_msg", "server CPU per message, µs", "{:,.0f}", ("<=", 1.5)),
    ("steady", "db_cpu_us_per_msg", "PostgreSQL CPU per message, µs", "{:,.0f}", None),
    ("max", "rate", "messages/s held", "{:,.0f}", (">=", 0.67)),
    ("max", "p99_ms", "p99 at that rate, ms", "{:,.1f}", None),
    ("max", "cpu_us_per_msg", "server CPU per message at that rate, µs", "{:,.0f}", None),
    ("max", "db_cpu_us_per_msg", "PostgreSQL CPU per message at that rate, µs", "{:,.0f}", None),
    ("flood", "sent", "sent", "{:,}", None),
    ("flood", "live", "delivered live", "{:,}", None),
    ("flood", "recovered", "recovered by resume", "{:,}", None),
    ("flood", "lost", "lost", "{:,}", None),
    ("flood", "duplicated", "duplicated", "{:,}", None),
    ("idle", "kb_per_socket", "memory per idle socket, KB", "{:.1f}", ("<=", 1.3)),
    ("idle", "idle_cpu_pct", "server CPU while idle, % of a core", "{:.2f}", None),
    ("drafts", "p99_ms", "p99 with drafts, ms", "{:,.1f}", ("<=", 1.5)),
    ("drafts", "cpu_us_per_msg", "server CPU per message with drafts, µs", "{:,.0f}", None),
    ("drafts", "own", "p99 with drafts ÷ p99 without (each server's own)", "{:.2f}×", None),
    ("reconnect", "lost", "lost after resume", "{:,}", None),
    ("reconnect", "duplicated", "duplicated after resume", "{:,}", None),
]
LOSS_TESTS = ["steady", "drafts", "max", "flood", "reconnect", "faults", "transcript"]
PRODUCT_ONLY = ("faults", "transcript")  # tests the floor is not put through
# The faults test, on the product only: (key, label, format, whether 0 is the target).
FAULT_FIGURES = [
    ("sent", "messages sent across it", "{:,}", False),
    ("lost", "lost", "{:,}", True),
    ("duplicated", "duplicated", "{:,}", True),
    ("out_of_order", "out of order", "{:,}", True),
    ("recovery_s", "recovery, s", "{:.2f}", False),
]
NOT_RUN = "—"  # a figure the floor is not measured on (the faults and transcript tests)
# The transcript test, on the product only: (key, label, format, absolute target in seconds or None).
TRANSCRIPT_FIGURES = [
    ("p50_s", "End Chat → transcript email accepted by SMTP, p50, s", "{:.2f}", None),
    ("p99_s", "End Chat → transcript email accepted by SMTP, p99, s", "{:.2f}", 30.0),
    ("max_s", "End Chat → transcript email accepted by SMTP, max, s", "{:.2f}", None),
]


def _get(results: dict, server: str, test: str, key: str):
    value = results.get("servers", {}).get(server, {}).get(test, {}).get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fmt(value, spec: str) -> str:
    return "–" if value is None else spec.format(value)


def _met(ratio, target) -> bool | None:
    if ratio is None or target is None:
        return None
    op, bound = target
    return ratio <= bound if op == "<=" else ratio >= bound


def rows(results: dict) -> list[dict]:
    """One row per figure; ``met`` is True/False for a target, None for a figure without one."""
    out = []
    for test, key, label, spec, target in FIGURES:
        if key == "own":
            out.append(_own_drafts_row(results, label, spec))
            continue
        product, floor = _get(results, "product", test, key), _get(results, "floor", test, key)
        ratio = product / floor if product is not None and floor and spec != "{:,}" else None
        out.append({"test": test, "figure": label, "product": _fmt(product, spec), "floor": _fmt(floor, spec),
                    "ratio": "–" if ratio is None else f"{ratio:.2f}×",
                    "target": "" if target is None else f"{'≤' if target[0] == '<=' else '≥'} {target[1]}×",
                    "met": _met(ratio, target)})
    out += _fault_rows(results)
    out += _transcript_rows(results)
    out.append(_loss_row(results))
    return out


def _transcript_rows(results: dict) -> list[dict]:
    """The transcript email's latency, the product's own, against an absolute target."""
    floor = NOT_RUN if "transcript" in results.get("tests", []) else "–"
    out = []
    for key, label, spec, bound in TRANSCRIPT_FIGURES:
        value = _get(results, "product", "transcript", key)
        out.append({"test": "transcript", "figure": label, "product": _fmt(value, spec), "floor": floor,
                    "ratio": "–", "target": "" if bound is None else f"≤ {bound:g} s",
                    "met": None if bound is None or value is None else value <= bound})
    return out


def transcript_brief(result: dict) -> str:
    if result.get("error") and result.get("p99_s") is None:
        return f"error: {result['error']}"
    brief = (f"{result.get('delivered', 0)}/{result.get('chats', 0)} emails accepted, p50 "
             f"{_fmt(result.get('p50_s'), '{:.2f}')} s, p99 {_fmt(result.get('p99_s'), '{:.2f}')} s, max "
             f"{_fmt(result.get('max_s'), '{:.2f}')} s, lost {result.get('lost')}, duplicated "
             f"{result.get('duplicated')}; measured from the {result.get('from')}")
    return brief + (f"; error: {result['error']}" if result.get("error") else "")


def _fault_rows(results: dict) -> list[dict]:
    """Each fault's figures for the product; the floor is not put through it (bench/README.md)."""
    down = results.get("sizes", {}).get("faults_redis_down", 3)
    faults = {"redis": f"Redis killed, back after {down:g} s", "daphne": "daphne killed, started again"}
    floor = NOT_RUN if "faults" in results.get("tests", []) else "–"
    out = []
    for fault, title in faults.items():
        for key, label, spec, zero in FAULT_FIGURES:
            value = _get(results, "product", "faults", f"{fault}_{key}")
            out.append({"test": "faults", "figure": f"{title}: {label}", "product": _fmt(value, spec), "floor": floor,
                        "ratio": "–", "target": "0" if zero else "", "met": None if not zero or value is None
                        else value == 0})
    value = _get(results, "product", "faults", "state_differences")
    out.append({"test": "faults", "figure": "clients' state ≠ a fresh read from seq 0",
                "product": _fmt(value, "{:,}"), "floor": floor, "ratio": "–", "target": "0",
                "met": None if value is None else value == 0})
    return out


def _own_drafts_row(results: dict, label: str, spec: str) -> dict:
    """The product's own price of drafts: its p99 with drafts ÷ its p99 without, in the same run."""
    own = {}
    for server in ("product", "floor"):
        with_drafts, without = _get(results, server, "drafts", "p99_ms"), _get(results, server, "steady", "p99_ms")
        own[server] = with_drafts / without if with_drafts is not None and without else None
    servers = results.get("servers", {})
    product = servers.get("product", {}) if isinstance(servers.get("product"), dict) else {}
    saturated = any(isinstance(product.get(t), dict) and product[t].get("saturated") for t in ("steady", "drafts"))
    met = None if own["product"] is None or saturated else own["product"] <= 1.3
    return {"test": "drafts", "figure": label, "product": _fmt(own["product"], spec),
            "floor": _fmt(own["floor"], spec), "ratio": "–",
            "target": "product ≤ 1.3×" + (" (not judged: the product was saturated, see notes)" if saturated else ""),
            "met": met}


def _loss_row(results: dict) -> dict:
    """Zero lost and zero duplicated in every test, for the product (the floor's shown beside it)."""
    own = {}
    for server in ("product", "floor"):
        parts, ok = [], True
        for test in LOSS_TESTS:
            if server == "floor" and test in PRODUCT_ONLY and test in results.get("tests", []):
                parts.append(NOT_RUN)
                continue
            lost, dup = _get(results, server, test, "lost"), _get(results, server, test, "duplicated")
            if lost is None or dup is None:
                ok = None if ok is not False else ok
                parts.append("–")
                continue
            if lost or dup:
                ok = False
            parts.append(f"{lost}/{dup}")
        own[server] = (" ".join(parts), ok)
    return {"test": "all", "figure": "lost/duplicated in " + ", ".join(LOSS_TESTS), "product": own["product"][0],
            "floor": own["floor"][0], "ratio": "–", "target": "0/0 everywhere", "met": own["product"][1]}


def markdown_table(table: list[dict]) -> str:
    lines = ["| test | figure | product | floor | product ÷ floor | target | met |",
             "|---|---|---:|---:|---:|---|---|"]
    for r in table:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['test']} | {r['figure']} | {r['product']} | {r['floor']} | {r['ratio']} | "
                     f"{r['target']} | {met} |")
    return "\n".join(lines)


def targets_summary(table: list[dict]) -> list[str]:
    out = []
    for r in table:
        if r["met"] is None and not r["target"]:
            continue
        state = {True: "met", False: "MISSED", None: "not judged" if r["product"] != "–" else "not measured"}[r["met"]]
        out.append(f"{state:>12}: {r['test']} {r['figure']} (product {r['product']}, floor {r['floor']}, "
                   f"ratio {r['ratio']}; target {r['target']})")
    return out


def errors_summary(results: dict) -> list[str]:
    out = []
    for server, tests in results.get("servers", {}).items():
        if isinstance(tests.get("error"), str):
            out.append(f"{server}: {tests['error']}")
            continue
        for test, result in tests.items():
            if isinstance(result, dict) and result.get("error"):
                out.append(f"{server} {test}: {result['error']}")
    return out


def notes(results: dict) -> list[str]:
    """What a reader needs to read the table right: a server that could not keep up."""
    out = []
    for server, tests in results.get("servers", {}).items():
        if not isinstance(tests, dict):
            continue
        held = _get(results, server, "max", "rate")
        saturated = []
        for test in ("steady", "drafts"):
            result = tests.get(test)
            if isinstance(result, dict) and result.get("saturated"):
                saturated.append(test)
                out.append(
                    f"The {server} did not keep up in {test}: {result.get('delivered_in_time_pct', 0):.0f}% of the "
                    f"{result.get('rate', 0):.0f} messages/s offered reached an agent within the stretch"
                    + (f" (its max test held {held:.0f}/s)" if held else "")
                    + ". Its latencies there are the wait in a growing backlog, not service times."
                )
        faults = tests.get("faults")
        if isinstance(faults, dict) and isinstance(faults.get("visitor_ack_p99_ms_before_faults"), float):
            before = max(faults["visitor_ack_p99_ms_before_faults"], faults.get("agent_ack_p99_ms_before_faults") or 0)
            if before > 1000:
                out.append(f"The {server} did not keep up with the faults test's load before any fault (acks took "
                           f"up to {before / 1000:.1f} s): its recovery times there include that backlog.")
        transcript = tests.get("transcript")
        if server == "product" and isinstance(transcript, dict) and transcript.get("from"):
            out.append(f"Transcript latency is measured from the {transcript['from']} to the SMTP server's reply to "
                       f"DATA, with {transcript.get('worker')}; the websocket frame before chat_end is not included.")
        if len(saturated) == 2:
            out.append(f"With the {server} saturated both with and without drafts, its own 'with ÷ without drafts' "
                       "ratio compares two backlogs and says little about the price of drafts.")
    return out


def versions() -> dict:
    out = {"Python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {"cores": os.cpu_count(), "cpu": cpu, "load_average_at_start": " ".join(load),
            "kernel": platform.release()}


def render_doc(results: dict) -> str:
    table = rows(results)
    errors = errors_summary(results)
    return f"""# Performance

Written by `make bench` (`{results.get('command', '')}`) on {results.get('date', '')}; it took
{results.get('wall_seconds', 0) / 60:.1f} minutes. Do not edit by hand: run `make bench` again.

The benchmark (bench/README.md) runs the same tests against the product and against a *floor*: a bare
Channels app on the same daphne, channel layer (`RedisPubSubChannelLayer`), psycopg pool options and
PostgreSQL server, whose consumer only parses a frame, saves one row, `group_send`s it and forwards it
to the other member. The ratio product ÷ floor is what our code costs on top of what any chat on this
stack must pay. Both servers were started fresh in the same run, one after the other, and spoken to
by the same load generator (the product through its public protocol, agents logged in through the
login form).

## Results

{markdown_table(table)}

## Targets

{chr(10).join('- ' + line.strip() for line in targets_summary(table))}
{_section('Errors', errors)}{_section('Notes', notes(results))}

## Conditions

{chr(10).join('- ' + line for line in _conditions(results))}
"""


def _conditions(results: dict) -> list[str]:
    sizes, v, m = results.get("sizes", {}), results.get("versions", {}), results.get("machine", {})
    loadgen = []
    for server, tests in results.get("servers", {}).items():
        shares = [f"{t} {r['loadgen_cpu_pct']:.0f}%" for t, r in tests.items()
                  if isinstance(r, dict) and isinstance(r.get("loadgen_cpu_pct"), float)]
        loadgen.append(f"{server}: {', '.join(shares)}")
    return [
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), Linux {m.get('kernel')}; load average when the run "
        f"started: {m.get('load_average_at_start')}. Daphne, PostgreSQL, Redis and the load generator share these "
        "cores, and other work may have been running on the machine: figures move by tens of percent from run to "
        "run; compare the ratios of one run rather than absolute figures across runs.",
        f"Load generator's own CPU share (% of one core, per test): {'; '.join(loadgen)}.",
        f"PostgreSQL {results.get('postgres_version', '?')}, Redis {results.get('redis_version', '?')}; "
        + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"Sizes: steady and drafts {sizes.get('steady_chats')} chats × {sizes.get('steady_rate')} message/s for "
        f"{sizes.get('steady_seconds')} s, drafts at {sizes.get('keystrokes')} keystrokes/s sent as at most "
        f"{sizes.get('typing_rate')} typing frames/s; max {sizes.get('max_chats')} closed-loop chats for "
        f"{sizes.get('max_seconds')} s; flood {sizes.get('flood_chats')} × {sizes.get('flood_messages')} messages; "
        f"idle {sizes.get('idle_sockets')} sockets; reconnect {sizes.get('reconnect_visitors')} visitors × "
        f"{sizes.get('reconnect_messages')} messages, cut every {sizes.get('reconnect_every')}; {sizes.get('agents')} "
        f"agent logins; {sizes.get('warmup_messages')} warm-up messages per chat before steady, drafts and max; "
        f"faults {sizes.get('faults_chats')} chats × {sizes.get('faults_rate')} message/s each way, Redis killed after "
        f"{sizes.get('faults_before')} s and started again {sizes.get('faults_redis_down')} s later, daphne killed "
        f"{sizes.get('faults_between')} s after that and started again at once, {sizes.get('faults_after')} s of load "
        "after it is back.",
        f"Transcript: {sizes.get('transcript_chats')} chats of {sizes.get('transcript_messages')} messages ended at "
        f"{sizes.get('transcript_rate')}/s through `chat.services.chat_end`, one Celery worker as `make worker` "
        "starts it, an SMTP server on loopback (aiosmtpd) in the load generator's process.",
        "Latency: from the visitor's socket send to the agent's socket receipt, both in the load generator. Server "
        "CPU: user + system time of the daphne process (all threads) from `/proc`, over the measured stretch, divided "
        "by the messages sent in it; PostgreSQL CPU likewise, of the backends connected to that server's database. "
        "Memory: resident set size from `/proc` before and after opening the idle sockets.",
    ]


def _section(title: str, lines: list[str]) -> str:
    return "".join([f"\n{title}:\n\n", *(f"- {line}\n" for line in lines)]) if lines else ""


def write_doc(path: Path, results: dict) -> None:
    path.write_text(render_doc(results))
