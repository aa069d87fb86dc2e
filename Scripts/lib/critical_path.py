"""Reads `perf script` output of Scripts/critical-path and prints what each relayed message cost.

Arguments: trace file, messages per second of the run, timeline rows, the bench's topology line,
then pid=role pairs (the bench's process is "clients", servers by name).

A commit is an fdatasync followed by LMDB's synchronous 120-byte metadata-page pwrite on the
same thread; a socket write is a write/writev by an event-loop thread (SwiftNIO names them
NIO-...; LMDB's writev of data pages happens elsewhere) of more than 8 bytes (8-byte writes are
eventfd wake-ups: work handed to an event loop from another thread). "commit to write" is the
median time from a commit's end to the process's next socket write (within 2 ms): how long what
waited for the commit took to leave.
"""
import bisect
import collections
import re
import sys

path, rate, rows, topology = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
roles = dict(pair.split("=", 1) for pair in sys.argv[5:])
leader = re.search(r"leader (\S+?),", topology)
home = re.search(r"home (\S+)", topology)
for pid, name in roles.items():
    tags = []
    if leader and name == leader.group(1):
        tags.append("leader")
    if home and name == home.group(1):
        tags.append("home")
    if tags:
        roles[pid] = f"{name}({'+'.join(tags)})"

line_pattern = re.compile(r"\s*(.*?)\s+(\d+)/(\d+)\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)")
count_pattern = re.compile(r"count: (0x[0-9a-f]+)")
sync_started = {}
commits = []  # (start, end, pid)
writes = []  # (time, pid, bytes)
wakes = collections.Counter()
first = last = None
with open(path) as trace:
    for line in trace:
        match = line_pattern.match(line)
        if not match:
            continue
        thread, pid, tid, time, event, args = match.groups()
        time = float(time)
        first = time if first is None else first
        last = time
        if event == "sys_enter_fdatasync":
            sync_started[tid] = time
        elif event == "sys_exit_pwrite64" and tid in sync_started and args.strip() == "0x78":
            commits.append((sync_started.pop(tid), time, pid))
        elif event in ("sys_enter_write", "sys_enter_writev"):
            count = count_pattern.search(args)
            size = int(count.group(1), 16) if count else None
            if size == 8:
                wakes[pid] += 1
            elif thread.startswith("NIO"):
                writes.append((time, pid, size))

if not commits or first is None:
    sys.exit("no commits in the trace")
span = last - first
messages = rate * span
print(f"recorded {span:.2f} s, ~{messages:.0f} messages ({1e3 / rate:.2f} ms each)")
print()
print(f"{'process':<16}{'commits/msg':>12}{'mean commit us':>16}{'commit to write us':>20}{'socket writes/msg':>19}{'loop wake-ups/msg':>19}")
by_pid = collections.defaultdict(list)
for start, end, pid in commits:
    by_pid[pid].append(end - start)
written = collections.Counter(pid for _, pid, _ in writes)
# From a commit's end to the process's next socket write: what waited for the commit leaving.
write_times = collections.defaultdict(list)
for time, pid, _ in writes:
    write_times[pid].append(time)
gaps = collections.defaultdict(list)
for start, end, pid in commits:
    times = write_times.get(pid, [])
    at = bisect.bisect_left(times, end)
    if at < len(times) and times[at] - end < 0.002:
        gaps[pid].append(times[at] - end)


def median(values):
    return sorted(values)[len(values) // 2] if values else 0
for pid in sorted(roles, key=lambda p: roles[p]):
    durations = by_pid.get(pid, [])
    mean = sum(durations) / len(durations) * 1e6 if durations else 0
    print(f"{roles[pid]:<16}{len(durations) / messages:>12.2f}{mean:>16.0f}{median(gaps[pid]) * 1e6:>20.0f}"
          f"{written[pid] / messages:>19.2f}{wakes[pid] / messages:>19.2f}")

# The time during which at least one commit was in flight anywhere.
union = 0.0
current = None
for start, end, _ in sorted(commits):
    if current is None or start > current[1]:
        if current:
            union += current[1] - current[0]
        current = [start, end]
    else:
        current[1] = max(current[1], end)
union += current[1] - current[0]
print()
print(f"a commit in flight somewhere: {union / messages * 1e3:.2f} ms per message "
      f"({union / span * 100:.0f} % of the time)")

events = [(start, roles.get(pid, pid), f"commit {(end - start) * 1e6:.0f} us") for start, end, pid in commits]
events += [(time, roles.get(pid, pid), f"socket write {size} B" if size else "socket writev") for time, pid, size in writes]
events.sort()
middle = len(events) // 2
print()
print(f"timeline ({rows} events from the middle of the recording; us since the first shown)")
window = events[middle:middle + rows]
for time, role, what in window:
    print(f"{(time - window[0][0]) * 1e6:>8.0f}  {role:<16}{what}")
