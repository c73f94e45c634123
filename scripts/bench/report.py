"""Writes the results of scripts/bench.sh into BENCHMARKS.md.

Only the part between the results markers is replaced, so the notes kept below it
(profiling, before/after figures) survive a re-run.

usage: report.py RESULTS.jsonl COMMAND BENCHMARKS.md
"""
import datetime
import json
import os
import platform
import subprocess
import sys

START, END = "<!-- results:start -->", "<!-- results:end -->"


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                   if line.startswith("MemTotal"))
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = "unknown"
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kib / 1024 / 1024:.0f} GiB RAM, "
            f"Linux {platform.release()}, {pg} on the same machine")


def get(results, scenario, *path):
    value = results.get(scenario)
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def budget_rows(results):
    throughput = get(results, "flat-out", "acked_per_sec")
    idle_rss, idle_note = idle_memory(results.get("idle"))
    rows = [
        ("Persisted messages/s, end-to-end (flat out)", "≥ 20,000", throughput,
         throughput is not None and throughput >= 20_000, "{:,.0f}"),
        ("Ack latency p99 at 5,000 msgs/s over 5,000 chats", "≤ 25 ms",
         get(results, "rate", "ack_latency", "p99_ms"), None, "{} ms"),
        ("Server RSS with 50,000 idle visitor WebSockets", "≤ 1,536 MiB", idle_rss,
         idle_rss is not None and idle_rss <= 1536, "{:,.0f} MiB" + idle_note),
        ("`session.start` → `queue.update` p99, queue filling to 10,000", "≤ 25 ms",
         get(results, "queue", "session_start_to_queue_update", "p99_ms"), None, "{} ms"),
        ("Offer after a slot frees, 10,000 waiting (p99)", "≤ 5 ms",
         get(results, "queue", "offer_after_slot_freed", "p99_ms"), None, "{} ms"),
        ("Search p99 over 1,000,000 messages (SPEC section 10)", "≤ 50 ms",
         get(results, "search", "latency", "p99_ms"), None, "{} ms"),
    ]
    out = []
    for name, target, value, met, fmt in rows:
        if met is None and value is not None:
            met = value <= float(target.split()[1].replace(",", ""))
        shown = fmt.format(value) if value is not None else "not run"
        out.append(f"| {name} | {target} | {shown} | {'yes' if met else 'no' if value is not None else '–'} |")
    return out


def idle_memory(idle):
    """The server's RSS with 50,000 idle sockets: measured when the run held them all,
    else projected linearly from the sockets it did hold (and said so)."""
    if not idle or not idle.get("still_open"):
        return None, ""
    held = idle["still_open"]
    if held >= 50_000 and idle["failed"] == 0:
        return idle["server_rss_mib"], ""
    before = idle.get("server_rss_before_mib", 0)
    per_socket = (idle["server_rss_mib"] - before) / held
    projected = before + per_socket * 50_000
    return projected, f" (projected: {held:,} held, the open-file limit allowed no more)"


def latency(summary):
    if not summary or not summary.get("count"):
        return "–"
    return f"{summary['p50_ms']} / {summary['p99_ms']} / {summary['max_ms']} ms"


def details(results):
    lines = []
    for scenario in ("flat-out", "rate"):
        r = results.get(scenario)
        if not r:
            continue
        mode = (f"flat out, window {r['window']} per chat" if scenario == "flat-out"
                else f"{r['target_rate']:,.0f} msgs/s")
        lines += [
            f"**Chat, {mode}** — {r['conversations']:,} conversations, {r['specialists']} specialists, "
            f"{r['measured_secs']} s measured after warm-up",
            "",
            "| figure | value |", "| --- | --- |",
            f"| acked (persisted) messages/s | {r['acked_per_sec']:,.0f} |",
            f"| delivered to the specialist/s | {r['delivered_per_sec']:,.0f} |",
            f"| ack latency p50 / p99 / max | {latency(r['ack_latency'])} |",
            f"| delivery latency p50 / p99 / max | {latency(r['delivery_latency'])} |",
            f"| connection set-up p50 / p99 / max | {latency(r['connect'])} |",
            f"| `session.start` → `queue.update` p50 / p99 / max | {latency(r['session_start_to_queue_update'])} |",
            f"| errors | {r['errors']} |",
            f"| server RSS | {r.get('server_rss_mib', '–')} MiB |",
            "",
        ]
    r = results.get("idle")
    if r:
        lines += [
            f"**Idle visitors** — {r['visitors']:,} signed up and connected, held {r['connect_all_secs']} s to connect",
            "", "| figure | value |", "| --- | --- |",
            f"| connected / failed / still open after the hold | {r['connected']:,} / {r['failed']} / {r['still_open']:,} |",
            f"| connection set-up p50 / p99 / max | {latency(r['connect'])} |",
            f"| server RSS before / with the connections | {r.get('server_rss_before_mib', '–')} / {r.get('server_rss_mib', '–')} MiB |",
            f"| per connection | {r.get('server_kib_per_connection', '–')} KiB |",
            "",
        ]
    r = results.get("queue")
    if r:
        lines += [
            f"**Queue** — {r['waiting']:,} chats started at {r['start_rate']:,.0f}/s with nobody online, "
            "then one specialist (capacity 1) accepting and ending them one by one",
            "", "| figure | value |", "| --- | --- |",
            f"| `session.start` → first `queue.update` p50 / p99 / max | {latency(r['session_start_to_queue_update'])} |",
            f"| first offer after going online | {r['first_offer_ms']:.2f} ms |",
            f"| offer after the previous chat's end p50 / p99 / max | {latency(r['offer_after_slot_freed'])} |",
            f"| server RSS | {r.get('server_rss_mib', '–')} MiB |",
            "",
        ]
    r = results.get("search")
    if r:
        lines += [
            f"**Search** — `GET /api/v1/conversations?q=` as an admin over {r['messages']:,} seeded "
            f"messages in {r['sessions']:,} conversations, {r['queries']:,} queries "
            f"({r['concurrency']} at a time) after a warm-up",
            "", "| figure | value |", "| --- | --- |",
            f"| all queries p50 / p99 / max | {latency(r['latency'])} |",
            *(f"| {kind} p50 / p99 / max | {latency(summary)} |"
              for kind, summary in r["by_kind"].items()),
            f"| queries with no result | {r['empty_results']} |",
            f"| indexing the seed after start-up | {r.get('index_secs', '–')} s |",
            f"| server RSS | {r.get('server_rss_mib', '–')} MiB |",
            "",
        ]
    r = results.get("ceiling")
    if r:
        ratio = ""
        if results.get("flat-out"):
            share = results["flat-out"]["acked_per_sec"] / r["rows_per_sec"]
            ratio = f" End-to-end throughput is **{share:.0%}** of this ceiling."
        lines += [
            f"**Database ceiling** — pgbench, {r['clients']} clients inserting batches of "
            f"{r['batch_rows']} message rows per transaction: **{r['rows_per_sec']:,.0f} rows/s**.{ratio}",
            "",
        ]
    return lines


def main():
    results_path, command, target = sys.argv[1:4]
    results = {}
    for line in open(results_path):
        if line.strip():
            record = json.loads(line)
            results[record["scenario"]] = record
    block = [
        START,
        f"Run on {datetime.date.today().isoformat()} with `{command.strip()}`.",
        "",
        f"Machine: {machine()}. The load tool (`switchboard-load`) runs on the same machine "
        "and shares its two cores with the server and Postgres.",
        "",
        "| budget (SPEC sections 9 and 10) | target | measured | met |",
        "| --- | --- | --- | --- |",
        *budget_rows(results),
        "",
        *details(results),
        END,
    ]
    text = "\n".join(block)
    if os.path.exists(target):
        existing = open(target).read()
        if START in existing and END in existing:
            head, rest = existing.split(START, 1)
            tail = rest.split(END, 1)[1]
            text = head + text + tail
        else:
            text = existing.rstrip() + "\n\n" + text + "\n"
    else:
        text = ("# Benchmarks\n\nProduced by `scripts/bench.sh` (see the README). Everything between "
                "the markers below is rewritten by each run; the notes after them are kept.\n\n"
                + text + "\n\n## Notes\n")
    with open(target, "w") as out:
        out.write(text if text.endswith("\n") else text + "\n")


main()
