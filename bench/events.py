"""The events step of `make bench`: API writes with the outbox relay beside them.

On the API that `bench.run` serves under gunicorn, with a private RabbitMQ node and
`manage.py relay_events` in their own processes, and a consumer of the `users` exchange here:

1. Write throughput with events off and on, interleaved (off, on, off, on) so that the machine's
   noise falls on both: wrk as fast as the API answers, creates and first-name updates in turn
   (bench/wrk/write.lua). "Off" is what `EVENTS_BROKER_URL` unset gives: the outbox rows are still
   written in the request's transaction, and no relay publishes them. The relay is paused
   (SIGSTOP) during the off runs, and their rows are marked sent afterwards, without publishing,
   so that an on run never carries an off run's backlog.
2. Sustained writes at a fixed rate (the spec's 2,000/s, or what the API reached in step 1 when
   it reached less), the relay publishing: the unsent rows are counted every second, and the
   consumer times each write's event from the write's response (the event's `ce-time` is the
   outbox row's `created_at`, taken in the request before its commit: from it, the figure is an
   upper bound; from the response, which follows the commit, a lower one).
3. The pipeline at the spec's 2,000 writes/s, which the API cannot reach on the bench's machine:
   pgbench commits what a write's transaction adds for its event (the outbox row, then the wake
   after the commit) at that rate, the relay publishing and the consumer timing each event from
   its `ce-time`, while the unsent rows are counted every second.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench.load import log, run_wrk

ROOT = Path(__file__).resolve().parent.parent
WRITE_LUA = Path(__file__).resolve().parent / "wrk" / "write.lua"
SPEC_RATE = 2000
# One event's share of a write's transaction, as `events.outbox` writes it; 4 clients, enough to
# commit 2,000 a second on the bench's durable cluster (their commits share WAL flushes).
PIPELINE_SCRIPT = """\\set user random(1, 1000000000)
BEGIN;
INSERT INTO events_outboxevent (created_at, tenant, aggregate_type, aggregate_id, type, exchange, routing_key,
  payload, attempts, last_error, next_attempt_at)
  VALUES (now(), 'bench', 'user', 'pipeline-' || :user, 'UserPiiUpdated', 'users', '{key}', '{payload}', 0, '', now());
COMMIT;
BEGIN;
SET LOCAL synchronous_commit TO OFF;
NOTIFY events_outbox;
COMMIT;
"""
PIPELINE_CLIENTS = 4
CPU_PARTS = ("gunicorn", "postgres", "relay", "broker", "consumer and sampler")


def wrk_writes(url, users, auth, seconds, connections, threads, run, rate=0, log_prefix=""):
    return run_wrk(url, WRITE_LUA, {"BENCH_N": str(users), "BENCH_AUTH": auth, "BENCH_RUN": run,
                                    "BENCH_RATE": str(rate), "BENCH_THREADS": str(threads), "BENCH_LOG": log_prefix},
                   seconds, connections, threads)


def cpu_seconds(session=None, parent=None):
    """CPU time (user + system, with the children they reaped) of the live processes of a session,
    or of a process and its children."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        if (session is not None and int(fields[3]) == session) or (
                parent is not None and parent in (pid, int(fields[1]))):
            total += sum(int(v) for v in fields[11:15])
    return total / tick


def thread_cpu_seconds(*threads):
    """CPU time of threads of this process: what the consumer and the sampler cost, without the
    scans of /proc that measure the other parts (which this process does too, between runs)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for thread in threads:
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # it has ended: nothing more to count
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def postmaster_pid():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return int(Path(f"/proc/{backend}/stat").read_text().rpartition(")")[2].split()[1])


def unsent():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_outboxevent WHERE sent_at IS NULL")
        return cursor.fetchone()[0]


class Sampler(threading.Thread):
    """The unsent outbox rows, counted once a second, until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        from django.db import connection

        start = time.monotonic()
        try:
            while True:
                self.samples.append((round(time.monotonic() - start, 2), unsent()))
                if self.halt.wait(1.0):
                    break
        finally:
            connection.close()

    def stop(self):
        self.halt.set()
        self.join()
        return backlog(self.samples)


def backlog(samples):
    """Start, max, end, and the least-squares slope in rows per second."""
    counts = [c for _, c in samples]
    times = [t for t, _ in samples]
    slope = 0.0
    if len(samples) > 2:
        mean_t, mean_c = statistics.fmean(times), statistics.fmean(counts)
        var = sum((t - mean_t) ** 2 for t in times)
        slope = sum((t - mean_t) * (c - mean_c) for t, c in samples) / var if var else 0.0
    return {"start": counts[0], "max": max(counts), "end": counts[-1], "slope_rows_per_s": round(slope, 1),
            "samples": counts}


class Consumer(threading.Thread):
    """A queue bound to every key of the `users` exchange; while `recording`, the arrival time of
    each message, by the first name its payload carries, and its `ce-time`."""

    def __init__(self, url):
        super().__init__(daemon=True)
        from events import amqp

        self.connection = amqp.connect(url)
        self.channel = self.connection.channel()
        amqp.declare_exchanges(self.channel)
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        self.channel.queue_bind(queue=self.queue, exchange="users", routing_key="#")
        self.received = 0
        self.recording = False
        self.arrivals = []
        self.halt = threading.Event()

    def run(self):
        for method, properties, body in self.channel.consume(self.queue, auto_ack=True, inactivity_timeout=0.5):
            if method is not None:
                arrived = time.time()
                self.received += 1
                if self.recording:
                    self.arrivals.append((arrived, body, properties.headers.get("ce-time")))
            if self.halt.is_set():
                break
        self.channel.cancel()
        self.connection.close()

    def stop(self):
        self.halt.set()
        self.join()


class RelayProcess:
    def __init__(self, broker_url):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "EVENTS_BROKER_URL": broker_url,
               "LOG_LEVEL": "WARNING", "DJANGO_DEBUG": "false"}
        self.process = subprocess.Popen([sys.executable, "manage.py", "relay_events"], cwd=ROOT, env=env,
                                        start_new_session=True)

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def drain(timeout=60.0):
    """Seconds until no row is unsent (None if some still are after `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if unsent() == 0:
            return round(time.monotonic() - start, 2)
        time.sleep(0.1)
    return None


def mark_sent():
    """The off runs' rows: what a relay started later would send, not part of the next on run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE events_outboxevent SET sent_at = now() WHERE sent_at IS NULL")
        return cursor.rowcount


def percentiles(values):
    if not values:
        return None
    values = sorted(values)

    def at(p):
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1)

    return {"p50_ms": at(50), "p99_ms": at(99), "max_ms": round(values[-1], 1), "n": len(values)}


def since_ce_time(arrived, ce_time) -> float:
    """Milliseconds from an event's `ce-time` header (bytes or text, UTC) to `arrived` (epoch seconds)."""
    ce_time = ce_time.decode() if isinstance(ce_time, bytes) else ce_time
    return (arrived - datetime.fromisoformat(ce_time.replace("Z", "+00:00")).timestamp()) * 1000


def latencies(arrivals, log_prefix, threads):
    """Milliseconds from each write's response, and from its event's ce-time, to its arrival."""
    responded = {}
    for number in range(1, threads + 1):
        path = Path(f"{log_prefix}.{number}")
        if path.exists():
            for line in path.read_text().splitlines():
                token, _, micros = line.partition(" ")
                responded[token] = int(micros) / 1e6
    from_response, from_time = [], []
    for arrived, body, ce_time in arrivals:
        token = json.loads(body).get("firstName")
        if token in responded:
            from_response.append((arrived - responded[token]) * 1000)
            if ce_time:
                from_time.append(since_ce_time(arrived, ce_time))
    return {"writes_logged": len(responded), "from_response": percentiles(from_response),
            "from_ce_time": percentiles(from_time)}


def cpu_per_write(runs):
    """CPU milliseconds per write, by part, over runs: noise from other jobs on the machine changes
    how fast the writes go, much less what each costs."""
    writes = sum(r["requests"] for r in runs)
    return {part: round(1000 * sum(r["cpu_s"][part] for r in runs) / writes, 2) for part in CPU_PARTS}


def pipeline(consumer, relay, broker, seconds):
    """Step 3: outbox rows committed by pgbench at SPEC_RATE, the relay publishing them."""
    from events.catalogue import BY_NAME
    from tests.postgres import find_bindir

    payload = json.dumps({"userId": "00000000-0000-4000-8000-000000000000", "tenant": "bench", "username": "someone",
                          "email": "someone@example.com", "firstName": "Some", "lastName": "One",
                          "changedFields": ["first_name"]})

    def used():
        return [cpu_seconds(relay.process.pid), cpu_seconds(broker.process.pid)]

    log(f"events pipeline: {SPEC_RATE} outbox commits/s by pgbench for {seconds} s, the relay publishing")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        script = Path(folder) / "write.sql"
        script.write_text(PIPELINE_SCRIPT.format(key=BY_NAME["UserPiiUpdated"].key, payload=payload))
        consumer.arrivals, consumer.recording = [], True
        sampler = Sampler()
        sampler.start()
        before = used()
        out = subprocess.run(
            [str(find_bindir() / "pgbench"), "--no-vacuum", "--file", str(script), "--rate", str(SPEC_RATE),
             "--time", str(seconds), "--client", str(PIPELINE_CLIENTS), "--jobs", "2", os.environ["DATABASE_URL"]],
            capture_output=True, text=True, check=True).stdout
        samples = sampler.stop()
        drained = drain()
        time.sleep(0.5)  # the last messages on their way to the consumer
        consumer.recording = False
    committed = int(out.split("number of transactions actually processed:")[1].split()[0])
    spent = [b - a for a, b in zip(before, used())]
    from_time = [since_ce_time(arrived, ce_time) for arrived, _, ce_time in consumer.arrivals if ce_time]
    result = {"asked_rate": SPEC_RATE, "seconds": seconds, "committed": committed,
              "achieved_rate": round(committed / seconds, 1), "received": len(consumer.arrivals),
              "backlog": samples, "drain_s": drained, "from_ce_time": percentiles(from_time),
              "cpu_ms_per_event": {"relay": round(1000 * spent[0] / max(committed, 1), 3),
                                   "broker": round(1000 * spent[1] / max(committed, 1), 3)}}
    log(f"events pipeline: {result['achieved_rate']:,.1f} commits/s of {SPEC_RATE}; {result['received']:,} of "
        f"{committed:,} received; unsent rows start {samples['start']}, max {samples['max']}, end {samples['end']}, "
        f"slope {samples['slope_rows_per_s']} rows/s; ce-time to consumer {result['from_ce_time']}; "
        f"CPU ms per event {result['cpu_ms_per_event']}")
    return result


def run(url, token, args, api_pid):
    """The events section of the results."""
    from events.broker_server import Broker

    auth = f"Bearer {token}"
    seconds, threads, connections = args.events_seconds, args.threads, args.connections
    tag = str(int(time.time()))
    log("events: starting a private RabbitMQ node and the relay")
    broker = Broker().start()
    relay = consumer = None
    try:
        relay = RelayProcess(broker.url)
        consumer = Consumer(broker.url)
        consumer.start()
        drain()
        postgres = postmaster_pid()

        log(f"events: write throughput, events off and on in turn, {seconds} s each")
        wrk_writes(url, args.users, auth, 3, connections, threads, f"{tag}w")  # warm-up, relay on
        drain()
        runs, saturated_backlogs = {"off": [], "on": []}, []
        for number, mode in enumerate(["off", "on", "off", "on"]):
            if mode == "off":
                relay.pause()
            sampler = Sampler()
            sampler.start()
            def cpu():
                return [cpu_seconds(parent=api_pid), cpu_seconds(parent=postgres), cpu_seconds(relay.process.pid),
                        cpu_seconds(broker.process.pid), thread_cpu_seconds(consumer, sampler)]

            before = cpu()
            result = wrk_writes(url, args.users, auth, seconds, connections, threads, f"{tag}t{number}")
            result["cpu_s"] = {name: round(b - a, 2) for name, a, b in zip(CPU_PARTS, before, cpu())}
            samples = sampler.stop()
            if mode == "off":
                result["marked_sent"] = mark_sent()
                relay.resume()
            else:
                result["drain_s"] = drain()
                saturated_backlogs.append(samples)
            result["backlog"] = samples
            runs[mode].append(result)
            log(f"events {mode:<3} {result['rps']:>8,.1f} writes/s  p50 {result['p50_us'] / 1000:>6.2f} ms  "
                f"p99 {result['p99_us'] / 1000:>6.2f} ms  unsent rows max {samples['max']}  cpu s {result['cpu_s']}"
                + (f"  ERRORS {result['errors']}" if result["errors"] else ""))
        off = statistics.fmean(r["rps"] for r in runs["off"])
        on = statistics.fmean(r["rps"] for r in runs["on"])
        cpu_off, cpu_on = cpu_per_write(runs["off"]), cpu_per_write(runs["on"])
        log(f"events: CPU ms per write, off {cpu_off}, on {cpu_on}")

        rate = min(SPEC_RATE, int(on))
        sustained_seconds = args.events_sustained_seconds
        log(f"events: {rate} writes/s for {sustained_seconds} s with the relay publishing (spec: {SPEC_RATE}/s)")
        with tempfile.TemporaryDirectory(prefix="bench-events-") as folder:
            prefix = f"{folder}/responses"
            consumer.recording = True
            sampler = Sampler()
            sampler.start()
            result = wrk_writes(url, args.users, auth, sustained_seconds, connections, threads, f"{tag}s",
                                rate=rate, log_prefix=prefix)
            samples = sampler.stop()
            result["drain_s"] = drain()
            time.sleep(0.5)  # the last messages on their way to the consumer
            consumer.recording = False
            timing = latencies(consumer.arrivals, prefix, threads)
        log(f"events sustained: {result['rps']:,.1f} writes/s of {rate} asked; unsent rows start {samples['start']}, "
            f"max {samples['max']}, end {samples['end']}, slope {samples['slope_rows_per_s']} rows/s; "
            f"commit to consumer p50 {timing['from_response']['p50_ms']} ms, p99 {timing['from_response']['p99_ms']} "
            f"ms, max {timing['from_response']['max_ms']} ms (from the response)")
        piped = pipeline(consumer, relay, broker, sustained_seconds)
        return {
            "mix": "POST /v1/users and PATCH /v1/users/{id} (first name) in turn",
            "connections": connections, "seconds_per_run": seconds,
            "throughput": {"off": runs["off"], "on": runs["on"], "off_rps": round(off, 1), "on_rps": round(on, 1),
                           "ratio": round(on / off, 3), "cpu_ms_per_write_off": cpu_off,
                           "cpu_ms_per_write_on": cpu_on,
                           "cpu_ratio": round(sum(cpu_off.values()) / sum(cpu_on.values()), 3)},
            "sustained": {"spec_rate": SPEC_RATE, "target_rate": rate, "achieved_rate": result["rps"],
                          "seconds": sustained_seconds, "p50_ms": result["p50_us"] / 1000,
                          "p99_ms": result["p99_us"] / 1000, "errors": result["errors"], "backlog": samples,
                          "drain_s": result["drain_s"], "latency": timing},
            "pipeline": piped,
            "messages_received": consumer.received,
        }
    finally:
        if consumer is not None:
            consumer.stop()
        if relay is not None:
            relay.stop()
        broker.stop()
        from django.db import connection

        connection.close()


def api(cpu):
    return round(cpu["gunicorn"] + cpu["postgres"], 2)


def summary(section):
    """The events rows of latest.md."""
    t, s = section["throughput"], section["sustained"]
    b, lr, lt = s["backlog"], s["latency"]["from_response"], s["latency"]["from_ce_time"]
    return (
        f"\n## Events\n\nWrites ({section['mix']}), {section['connections']} connections, the relay "
        f"(`relay_events`) and a consumer of the `users` exchange on the same machine.\n\n"
        f"| measurement | figure |\n|---|---:|\n"
        f"| writes/s, events off (runs 1, 3) | {t['off_rps']:,.1f} |\n"
        f"| writes/s, events on (runs 2, 4) | {t['on_rps']:,.1f} |\n"
        f"| on / off (target >= 0.9) | {t['ratio']:.2f} |\n"
        f"| CPU ms per write, off: API (gunicorn + PostgreSQL) | {api(t['cpu_ms_per_write_off'])} |\n"
        f"| CPU ms per write, on: API (its PostgreSQL share includes the relay's queries); relay, broker, "
        f"consumer | {api(t['cpu_ms_per_write_on'])}; "
        f"{t['cpu_ms_per_write_on']['relay']}, {t['cpu_ms_per_write_on']['broker']}, "
        f"{t['cpu_ms_per_write_on']['consumer and sampler']} |\n"
        f"| CPU per write, off / on (what the ratio is on a machine the step has to itself) | "
        f"{t['cpu_ratio']:.2f} |\n"
        f"| sustained: asked / achieved writes/s (spec {s['spec_rate']:,}) | {s['target_rate']:,} / "
        f"{s['achieved_rate']:,.1f} |\n"
        f"| sustained: unsent rows start / max / end, slope | {b['start']} / {b['max']} / {b['end']}, "
        f"{b['slope_rows_per_s']} rows/s |\n"
        f"| sustained: backlog drained after the load in | {s['drain_s']} s |\n"
        f"| commit to consumer, from the response: p50 / p99 / max (target p99 <= 100 ms) | "
        f"{lr['p50_ms']} / {lr['p99_ms']} / {lr['max_ms']} ms |\n"
        f"| the same from the event's ce-time (before the commit) | {lt['p50_ms']} / {lt['p99_ms']} / "
        f"{lt['max_ms']} ms |\n"
        + pipeline_rows(section.get("pipeline"))
    )


def pipeline_rows(p):
    if not p:
        return ""
    b, lt, c = p["backlog"], p["from_ce_time"] or {}, p["cpu_ms_per_event"]
    return (
        f"| pipeline (pgbench commits the outbox rows, not the API): asked / achieved commits/s, received | "
        f"{p['asked_rate']:,} / {p['achieved_rate']:,.1f}, {p['received']:,} of {p['committed']:,} |\n"
        f"| pipeline: unsent rows start / max / end, slope | {b['start']} / {b['max']} / {b['end']}, "
        f"{b['slope_rows_per_s']} rows/s |\n"
        f"| pipeline: ce-time to consumer p50 / p99 / max | {lt.get('p50_ms')} / {lt.get('p99_ms')} / "
        f"{lt.get('max_ms')} ms |\n"
        f"| pipeline: CPU ms per event, relay; broker | {c['relay']}; {c['broker']} |\n"
    )


def targets(section):
    t, s = section["throughput"], section["sustained"]
    found = {
        "events: sustained writes/s with the relay keeping up (spec 2,000/s)": {
            "asked": s["target_rate"], "achieved": s["achieved_rate"],
            "unsent rows start/max/end": [s["backlog"]["start"], s["backlog"]["max"], s["backlog"]["end"]],
            "slope rows/s": s["backlog"]["slope_rows_per_s"]},
        "events: commit to consumer p99 <= 100 ms (from the response)": s["latency"]["from_response"],
        "events: write throughput on >= 0.9x off": {"throughput": t["ratio"], "CPU per write": t["cpu_ratio"]},
    }
    p = section.get("pipeline")
    if p:
        found["events: the relay keeping up with 2,000 commits/s (pgbench writes the outbox rows)"] = {
            "asked": p["asked_rate"], "achieved": p["achieved_rate"], "received": p["received"],
            "committed": p["committed"],
            "unsent rows start/max/end": [p["backlog"][k] for k in ("start", "max", "end")],
            "slope rows/s": p["backlog"]["slope_rows_per_s"], "ce-time to consumer": p["from_ce_time"]}
    return found
