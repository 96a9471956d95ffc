#!/usr/bin/python3
"""Where the milliseconds of one cold start go (docs/platform.md, "Cold start, phase by phase").
Driven by `bench/platform/coldstart.sh --trace`; run with Debian's python3.

Each row is the median of RUNS fresh processes, in wall time and in CPU time (perf's task-clock
or the runtime's own per-thread CPU clocks): on a machine others load, wall time grows with the
time others run, CPU time far less, so both are printed, with the load average.

  exec + dynamic linking   `faasml --version` (exec, ld.so relocating its 50-odd libraries, exit)
                           against /bin/true (libc only) and with LD_BIND_NOW=1; ld.so's own count
                           of cycles and relocations (LD_DEBUG=statistics); the loader cost of one
                           library group alone (an empty program linked against it)
  cgroup create + attach   mkdir of a memory (v1) or unified (v2) cgroup, memory limit written, a
                           forked child attaching itself, rmdir (skipped when not writable)
  model phases             `faasml infer --json` on the model: open+map, parse, plan, oneDNN
                           primitive creation and JIT (pack minus reorder), weight reorder, cache
                           check, first inference; with the packed-weight cache off, cold (written)
                           and warm (mapped)
The platform's own phases under `faasml serve` (spawn, runtime init, load, warm-up, Init
Duration) come from the plain `bench/platform/coldstart.sh` run.
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

FAASML, SRC, MODEL_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
RUNS = int(os.environ.get("RUNS", "5"))
MODEL = os.path.join(MODEL_DIR, "model.onnx")
INPUT = os.path.join(MODEL_DIR, "input_b1.npy")
TMP = tempfile.mkdtemp(prefix="faasml-trace.")
PERF = shutil.which("perf")


def med(v):
    return statistics.median(v) if v else float("nan")


def task_clock(argv, env=None):
    """(wall ms, cpu ms, page faults) of one process; cpu and faults NaN without perf."""
    cmd = ([PERF, "stat", "-x,", "-e", "task-clock,page-faults"] if PERF else []) + argv
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = (time.perf_counter() - t0) * 1e3
    cpu = faults = float("nan")
    for line in r.stderr.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == "task-clock":
            cpu = float(f[0])
        elif len(f) > 2 and f[2] == "page-faults":
            faults = float(f[0])
    return wall, cpu, faults, r


def row(name, wall, cpu, note=""):
    print("  %-34s %9.2f %9.2f   %s" % (name, wall, cpu, note))


def trace_link():
    print("exec + dynamic linking (median of %d)            wall ms    cpu ms" % RUNS)
    env = dict(os.environ)
    for name, argv, e in (("/bin/true (libc only)", ["/bin/true"], env),
                          ("faasml --version", [FAASML, "--version"], env),
                          ("faasml --version, LD_BIND_NOW=1", [FAASML, "--version"],
                           dict(env, LD_BIND_NOW="1"))):
        w, c, f = zip(*[task_clock(argv, e)[:3] for _ in range(RUNS)])
        row(name, med(w), med(c), "page faults %d" % med(f))
    cyc, rel, nrel = [], [], []
    for _ in range(RUNS):
        r = subprocess.run([FAASML, "--version"], env=dict(env, LD_DEBUG="statistics"),
                           capture_output=True, text=True)
        m = re.search(r"total startup time in dynamic loader: ([0-9,]+) cycles", r.stderr)
        n = re.search(r"time needed for relocation: ([0-9,]+) cycles", r.stderr)
        k = re.search(r"final number of relocations: ([0-9]+)", r.stderr)
        if m and n and k:
            cyc.append(int(m.group(1).replace(",", "")))
            rel.append(int(n.group(1).replace(",", "")))
            nrel.append(int(k.group(1)))
    libs = subprocess.run(["ldd", FAASML], capture_output=True, text=True).stdout.count("=>")
    print("  ld.so: %d libraries, %d relocations, %.1f M cycles in the loader (%.1f M relocating)"
          % (libs, med(nrel), med(cyc) / 1e6, med(rel) / 1e6))
    cc = shutil.which("cc")
    if not cc:
        return
    src = os.path.join(TMP, "empty.c")
    open(src, "w").write("int main(void) { return 0; }\n")
    print("  loader cycles of one library group alone (empty program, median of %d):" % RUNS)
    for group in ("", "-lcurl", "-ldnnl", "-lopenblas", "-lXNNPACK -lpthreadpool", "-lsqlite3",
                  "-lyaml", "-levent"):
        exe = os.path.join(TMP, "empty")
        if subprocess.run([cc, src, "-o", exe, "-Wl,--no-as-needed"] + group.split(),
                          capture_output=True).returncode:
            continue
        v = []
        for _ in range(RUNS):
            r = subprocess.run([exe], env=dict(env, LD_DEBUG="statistics"), capture_output=True,
                               text=True)
            m = re.search(r"total startup time in dynamic loader: ([0-9,]+) cycles", r.stderr)
            if m:
                v.append(int(m.group(1).replace(",", "")))
        print("    %-24s %6.1f M cycles" % (group or "(libc only)", med(v) / 1e6))


def trace_cgroup():
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    root = "/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory"
    limit = "memory.max" if v2 else "memory.limit_in_bytes"
    base = os.path.join(root, "faasml-trace-%d" % os.getpid())
    try:
        os.mkdir(base)
    except OSError as e:
        print("cgroup create + attach: skipped (%s)" % e)
        return
    mk, at, rm = [], [], []
    try:
        for i in range(RUNS):
            d = os.path.join(base, "i%d" % i)
            t0 = time.perf_counter()
            os.mkdir(d)
            with open(os.path.join(d, limit), "w") as f:
                f.write(str(2048 << 20))
            t1 = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                t = time.perf_counter()
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write("0")
                os._exit(min(255, int((time.perf_counter() - t) * 1e5)))  # 10 us units
            _, st = os.waitpid(pid, 0)
            at.append(os.waitstatus_to_exitcode(st) / 100.0)
            t2 = time.perf_counter()
            os.rmdir(d)
            mk.append((t1 - t0) * 1e3)
            rm.append((time.perf_counter() - t2) * 1e3)
    finally:
        os.rmdir(base)
    print("cgroup (%s) median of %d: create + limit %.3f ms, attach (in the child) %.3f ms, "
          "remove %.3f ms" % ("v2" if v2 else "v1 memory", RUNS, med(mk), med(at), med(rm)))


def infer_once(cache):
    env = dict(os.environ, FM_INFER_PACK_CACHE=cache)
    w, c, f, r = task_clock([FAASML, "infer", MODEL, "-i", INPUT, "--bench", "1", "--warmup", "0",
                             "--json"], env)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return w, c, f, d


def trace_model():
    cache_dir = os.path.join(TMP, "pack")
    os.mkdir(cache_dir)
    modes = {"off": [], "cold": [], "warm": []}
    for _ in range(RUNS):
        for f in os.listdir(cache_dir):
            os.unlink(os.path.join(cache_dir, f))
        modes["off"].append(infer_once("off"))
        modes["cold"].append(infer_once(cache_dir))
        modes["warm"].append(infer_once(cache_dir))
    print("model phases, %s (median of %d; wall ms / cpu ms):" % (MODEL, RUNS))
    print("  %-26s %17s %17s %17s" % ("phase", "cache off", "cache cold", "cache warm"))
    phases = [("open + map", "read_ms"), ("parse", "parse_ms"), ("plan", "plan_ms"),
              ("primitives + JIT", None), ("weight reorder", "reorder_ms"),
              ("cache hash/check/map/write", "pack_cache_ms"), ("first inference", "first_run_ms")]
    for name, key in phases:
        cells = []
        for mode in ("off", "cold", "warm"):
            ds = [x[3] for x in modes[mode]]
            if key is None:
                w = med([d["load"]["pack_ms"] - d["load"]["reorder_ms"] for d in ds])
                c = med([d["load_cpu"]["pack_ms"] - d["load_cpu"]["reorder_ms"] for d in ds])
            else:
                w = med([d["load"][key] for d in ds])
                c = med([d["load_cpu"][key] for d in ds])
            cells.append("%7.2f / %7.2f" % (w, c))
        print("  %-26s %s" % (name, " ".join("%17s" % x for x in cells)))
    for label, idx in (("process, exec to exit", None), ("page faults", 2)):
        cells = []
        for mode in ("off", "cold", "warm"):
            xs = modes[mode]
            if idx is None:
                cells.append("%7.2f / %7.2f" % (med([x[0] for x in xs]), med([x[1] for x in xs])))
            else:
                cells.append("%17d" % med([x[2] for x in xs]))
        print("  %-26s %s" % (label, " ".join("%17s" % x for x in cells)))
    warm = modes["warm"][-1][3]["pack_cache"]
    print("  warm cache: %d weights mapped (%.1f MB shared), %d packed by the process"
          % (warm["hits"], warm["mapped_bytes"] / 1e6, warm["misses"]))


def main():
    print("load average before: %s" % open("/proc/loadavg").read().strip())
    try:
        trace_link()
        trace_cgroup()
        trace_model()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("load average after: %s" % open("/proc/loadavg").read().strip())


main()
