"""Writes the results of scripts/bench.sh into BENCHMARKS.md.

Only the part between the results markers is replaced, so the notes kept below it
(profiling, before/after figures) survive a re-run. The cluster's results have markers
of their own: a run of `scripts/bench.sh cluster` leaves the one-node figures as they
were, and a run without it leaves the cluster's.

usage: report.py RESULTS.jsonl COMMAND BENCHMARKS.md
"""
import datetime
import json
import os
import platform
import subprocess
import sys

START, END = "<!-- results:start -->", "<!-- results:end -->"
CLUSTER_START, CLUSTER_END = "<!-- cluster:start -->", "<!-- cluster:end -->"
CLUSTER = "cluster-"


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
        ("Ack latency p99 at 1,000 msgs/s with hostile clients running", "≤ 25 ms",
         get(results, "hostile", "ack_latency", "p99_ms"), None, "{} ms"),
        ("Server RSS with hostile clients running (before / peak / after)", "bounded",
         *hostile_memory(results.get("hostile")), "{}"),
    ]
    out = []
    for name, target, value, met, fmt in rows:
        if met is None and value is not None:
            met = value <= float(target.split()[1].replace(",", ""))
        shown = fmt.format(value) if value is not None else "not run"
        out.append(f"| {name} | {target} | {shown} | {'yes' if met else 'no' if value is not None else '–'} |")
    return out


# What "bounded" is taken to mean for the server's memory under hostile load: the peak
# stays within what the server may hold for every hostile connection, plus this
# allowance, over the figure before; and 10 s after the hostile load, the server is back
# within the allowance of the figure before. What it may hold for one connection: its
# outbox (SWITCHBOARD_WS_OUTBOX_BYTES, 4 MiB) and the WebSocket transport's 32 frames,
# each at most one reply (SWITCHBOARD_WS_REPLY_BYTES, 256 KiB).
HOSTILE_ALLOWANCE_MIB = 64
OUTBOX_MIB = 4
TRANSPORT_MIB = 32 * 0.25
PER_CONNECTION_MIB = OUTBOX_MIB + TRANSPORT_MIB


def hostile_memory(hostile):
    """(shown, met) for the hostile scenario's memory row."""
    if not hostile or hostile.get("server_rss_before_mib") is None:
        return None, None
    before = hostile["server_rss_before_mib"]
    peak = hostile.get("server_rss_hostile_peak_mib") or before
    after = hostile.get("server_rss_after_mib") or before
    connections = (hostile["stuck_sockets"]["visitors"]
                   + hostile["invalid_frames"]["connections"])
    met = (peak - before <= connections * PER_CONNECTION_MIB + HOSTILE_ALLOWANCE_MIB
           and after - before <= HOSTILE_ALLOWANCE_MIB)
    return f"{before:,.0f} / {peak:,.0f} / {after:,.0f} MiB", met


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
    r = results.get("hostile")
    if r:
        lines += hostile_details(r)
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


def hostile_details(r):
    logins, stuck, invalid = r["logins"], r["stuck_sockets"], r["invalid_frames"]
    connections = stuck["visitors"] + invalid["connections"]
    login_rate = (f"{logins['target_rate']:,.0f}/s" if logins.get("target_rate")
                  else "flat out")
    codes = ", ".join(f"{code}: {n}" for code, n in stuck.get("close_codes", {}).items()) or "none"
    return [
        f"**Hostile clients** — {r['conversations']:,} conversations at "
        f"{r['target_rate']:,.0f} msgs/s ({r['specialists']} specialists), {r['measured_secs']} s "
        f"measured while, from the same load process, a login flood ({logins['concurrency']} "
        f"connections, {login_rate}, wrong passwords for {logins['accounts']} e-mails, half of "
        f"them existing), {stuck['visitors']} visitors' sockets that never read (each asking for "
        f"its conversation of {stuck['conversation_messages']} long messages "
        f"{stuck['resumes_per_sec']:g}/s, with {stuck['pings_per_sec']:g} pings/s) "
        f"and {invalid['target_rate']:,.0f} invalid frames/s over {invalid['connections']} "
        f"connections ran for {r['hostile_secs']} s; the server with its default limits",
        "",
        "| figure | value |", "| --- | --- |",
        f"| honest ack latency p50 / p99 / max | {latency(r['ack_latency'])} |",
        f"| honest delivery latency p50 / p99 / max | {latency(r['delivery_latency'])} |",
        f"| honest messages acked / sent (whole run), errors | "
        f"{r['acked_total']:,} / {r['sent_total']:,}, {r['errors']} |",
        f"| acked (persisted) messages/s in the window | {r['acked_per_sec']:,.0f} |",
        f"| server RSS before / peak during ({r.get('server_rss_samples', 0)} readings, every "
        f"500 ms) / {r.get('after_secs', 10)} s after | {r.get('server_rss_before_mib', '–')} / "
        f"{r.get('server_rss_hostile_peak_mib', '–')} / {r.get('server_rss_after_mib', '–')} MiB |",
        f"| server CPU, honest load only / with the hostile load | "
        f"{r.get('server_cpu_honest_pct', '–')} % / {r.get('server_cpu_hostile_pct', '–')} % of a core |",
        f"| login attempts (per second) | {logins['sent']:,} ({logins['per_sec']:,.0f}/s) |",
        f"| … answered 401 / 429 / other / failed | {logins['status_401']:,} / "
        f"{logins['status_429']:,} / {logins['other_status']} / {logins['failed']} |",
        f"| … response time p50 / p99 / max | {latency(logins['latency'])} |",
        f"| never-reading sockets opened / upgrade refused | {stuck['opened']} / {stuck['refused_upgrade']} |",
        f"| … dropped by the server: seen while sending / found when finally read | "
        f"{stuck['dropped_while_sending']} / {stuck['dropped_by_server'] - stuck['dropped_while_sending']} "
        f"(of {stuck['open_at_stop']} still connected at the end; close frames: {codes}) |",
        f"| … most queued for one socket (read at the end) | {stuck['max_queued_mib']} MiB |",
        f"| … frames sent (of them `session.resume`), stalled writes | "
        f"{stuck['frames_sent']:,} ({stuck['resumes_sent']:,}), {stuck['stalled_writes']} |",
        f"| invalid frames sent / answered with an error (matched by `ref`) | "
        f"{invalid['sent']:,} / {invalid['answered']:,} ({invalid['answered_with_ref']:,}) |",
        f"| … taken as valid / refused for the rate / connections closed | "
        f"{invalid['unexpected_replies']} / {invalid['rate_limited']} / {invalid['closed_by_server']} |",
        f"| … error reply p50 / p99 / max | {latency(invalid['reply_latency'])} |",
        "",
        f"Memory counts as bounded when the peak stays within {PER_CONNECTION_MIB:g} MiB per "
        f"hostile connection ({connections}: the outbox cap, {OUTBOX_MIB} MiB, and the "
        f"WebSocket transport's 32 replies of at most 256 KiB) plus {HOSTILE_ALLOWANCE_MIB} MiB "
        "over the figure before the hostile load, and 10 s after it the server is back within "
        f"{HOSTILE_ALLOWANCE_MIB} MiB of that figure. Sockets that never read are read once, when the "
        "load stops, to see what the server had queued for them and whether it had given up "
        "on them (a close frame, or the end of the connection, behind the queued data).",
        "",
    ]


def cluster_rows(results):
    """The cluster's section: three nodes next to one, and the idle sockets per node."""
    one, three = results.get(CLUSTER + "one-node"), results.get(CLUSTER + "three-nodes")
    lines = []
    if one and three:
        rate = three["acked_per_sec"] / one["acked_per_sec"]
        one_p99, three_p99 = one["ack_latency"]["p99_ms"], three["ack_latency"]["p99_ms"]
        lines += [
            f"**Chat flat out, one node and three** — {three['conversations']:,} conversations, "
            f"window {three['window']} per chat, {three['measured_secs']} s measured after warm-up; "
            "on three nodes every visitor is on node 1 or 2 and every console on node 3",
            "",
            "| figure | one node | three nodes | three / one | target | met |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| acked (persisted) messages/s | {one['acked_per_sec']:,.0f} | "
            f"{three['acked_per_sec']:,.0f} | {rate:.0%} | ≥ 50 % | {'yes' if rate >= 0.5 else 'no'} |",
            f"| ack latency p99 | {one_p99} ms | {three_p99} ms | {three_p99 / one_p99:.1f}× | "
            f"≤ 2× | {'yes' if three_p99 <= 2 * one_p99 else 'no'} |",
            f"| ack latency p50 / p99 / max | {latency(one['ack_latency'])} | "
            f"{latency(three['ack_latency'])} | | | |",
            f"| delivery latency p50 / p99 / max | {latency(one['delivery_latency'])} | "
            f"{latency(three['delivery_latency'])} | | | |",
            f"| errors | {one['errors']} | {three['errors']} | | | |",
            "",
        ]
    kill, check = results.get(CLUSTER + "kill"), results.get(CLUSTER + "kill-check")
    if kill and check:
        longest = kill["ack_latency"]["max_ms"] / 1000
        lines += [
            f"**kill -9 of a node** — {kill['conversations']:,} conversations at "
            f"{kill['target_rate']:,.0f} msgs/s, visitors on nodes 1 and 2, consoles on node 3; "
            f"node 1 (running the dispatcher too) killed {kill.get('killed_after_secs', '–')} s "
            "into sending; its visitors reconnect through HAProxy and send their unacknowledged "
            "messages again, as the widget does",
            "",
            "| figure | value | target | met |",
            "| --- | --- | --- | --- |",
            f"| acknowledged messages not in Postgres afterwards | {check['lost']} of "
            f"{check['acked']:,} | 0 | {'yes' if check['lost'] == 0 else 'no'} |",
            f"| longest wait for an ack (every session served again) | {longest:.1f} s | ≤ 15 s | "
            f"{'yes' if longest <= 15 else 'no'} |",
            f"| ack latency p50 / p99 / max | {latency(kill['ack_latency'])} | | |",
            f"| visitors' reconnections | {kill.get('reconnects', '–')} | | |",
            f"| messages acked / sent, errors | {kill['acked_total']:,} / {kill['sent_total']:,}, "
            f"{kill['errors']} | | |",
            "",
        ]
    idle = [results[key] for key in sorted(results) if key.startswith(CLUSTER + "idle-node-")]
    if idle:
        thirds = [r.get("still_open", 0) for r in idle]
        parts = " + ".join(f"{n:,}" for n in thirds)
        lines += [
            f"**Idle visitors across three nodes** — {sum(thirds):,} sockets held "
            f"({parts}), each node's third connected by a load process of its own",
            "",
            "| node | connected / failed / still open | RSS before / with them | per connection |",
            "| --- | --- | --- | --- |",
            *(f"| {r['scenario'][len(CLUSTER + 'idle-'):]} | {r['connected']:,} / {r['failed']} / "
              f"{r['still_open']:,} | {r.get('server_rss_before_mib', '–')} / "
              f"{r.get('server_rss_mib', '–')} MiB | {r.get('server_kib_per_connection', '–')} KiB |"
              for r in idle),
            "",
        ]
    return lines


def replace_block(text, start, end, block):
    """`text` with the part between `start` and `end` replaced by `block`; without such
    a part, `block` goes before the notes."""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    if "\n## Notes" in text:
        head, tail = text.split("\n## Notes", 1)
        return head.rstrip() + "\n\n" + block + "\n\n## Notes" + tail
    return text.rstrip() + "\n\n" + block + "\n"


def main():
    results_path, command, target = sys.argv[1:4]
    results = {}
    for line in open(results_path):
        if line.strip():
            record = json.loads(line)
            results[record["scenario"]] = record
    run = (f"Run on {datetime.date.today().isoformat()} with `{command.strip()}`.\n\n"
           f"Machine: {machine()}. The load tool (`switchboard-load`) runs on the same machine "
           "and shares its two cores with the server and Postgres.")
    if os.path.exists(target):
        text = open(target).read()
    else:
        text = ("# Benchmarks\n\nProduced by `scripts/bench.sh` (see the README). Everything between "
                "the markers below is rewritten by each run; the notes after them are kept.\n\n"
                f"{START}\n{END}\n\n## Notes\n")
    one_node = {key: value for key, value in results.items() if not key.startswith(CLUSTER)}
    if one_node:
        block = [
            START, run, "",
            "| budget (SPEC sections 9 and 10) | target | measured | met |",
            "| --- | --- | --- | --- |",
            *budget_rows(one_node),
            "",
            *details(one_node),
            END,
        ]
        text = replace_block(text, START, END, "\n".join(block))
    if len(one_node) < len(results):
        block = [
            CLUSTER_START, "## Several nodes (SPEC section 13)", "", run, "",
            *cluster_rows(results),
            CLUSTER_END,
        ]
        text = replace_block(text, CLUSTER_START, CLUSTER_END, "\n".join(block))
    with open(target, "w") as out:
        out.write(text if text.endswith("\n") else text + "\n")


main()
