#!/usr/bin/python3
"""Cold start of a `runtime: image` instance (podman run of the OCI image `faasml package` builds)
against the exec path (runtime builtin-onnx: fork + exec of the function host), same model, same
platform, interleaved rounds (docs/deploy.md, "runtime: image"). Driven by
bench/platform/image_coldstart.sh.

Each function has keep_alive 100 ms: before each round the driver waits until the function has no
instance, then sends one synchronous invoke and times it end to end on the client; REPORT's Init
Duration is the platform's start-to-first-/next time. Then WARM warm invokes per function. Both
paths' outputs must be equal. Prints medians and the ratio image/exec.
"""
import json, os, re, statistics, subprocess, sys, tempfile, time
import serve_client
from serve_client import call, instances, invoke_timed

FAASML, MODEL, PAYLOAD = sys.argv[1], sys.argv[2], sys.argv[3]
COLD = int(os.environ.get("COLD", "10"))
WARM = int(os.environ.get("WARM", "20"))
TMP = tempfile.mkdtemp(prefix="faasml-imgcold.")
TAG = "localhost/faasml-bench-image:%d" % os.getpid()


def deploy(port, name, lines):
    serve_client.deploy(FAASML, TMP, port, name, lines)


def invoke(port, name, payload):
    ok, ms, init, body = invoke_timed(port, name, payload)
    if not ok:
        raise SystemExit("%s failed: %s" % (name, body[:300]))
    return ms, init, body


def main():
    spec = os.path.join(TMP, "pkg.yaml")
    open(spec, "w").write("name: bench\nruntime: builtin-onnx\nmodel: %s\nmemory_mb: 2048\n" % MODEL)
    t0 = time.perf_counter()
    subprocess.run([FAASML, "package", spec, "-o", os.path.join(TMP, "pkg"), "--format", "oci",
                    "--image", TAG], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    build_s = time.perf_counter() - t0
    size = subprocess.run(["podman", "image", "inspect", "-f", "{{.Size}}", TAG],
                          capture_output=True, text=True).stdout.strip()
    err = open(os.path.join(TMP, "serve.err"), "w")
    serve = subprocess.Popen([FAASML, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=err, text=True)
    try:
        port = int(re.match(r"listening on http://[^:]+:(\d+)", serve.stdout.readline()).group(1))
        common = ["memory_mb: 2048", "timeout_s: 60", "keep_alive: 100ms"]
        fns = {"exec": ["runtime: builtin-onnx", "model: " + MODEL] + common,
               "image": ["runtime: image", "image: " + TAG] + common}
        for k, v in fns.items():
            deploy(port, "ic-" + k, v)
        payload = open(PAYLOAD, "rb").read()
        e2e = {k: [] for k in fns}
        init = {k: [] for k in fns}
        warm = {k: [] for k in fns}
        ref = None
        for _ in range(COLD):
            for k in fns:
                for _ in range(800):
                    if instances(port, "ic-" + k) == 0:
                        break
                    time.sleep(0.025)
                ms, ini, body = invoke(port, "ic-" + k, payload)
                e2e[k].append(ms)
                if ini is not None:
                    init[k].append(ini)
                # the outputs, not model_name: the image's model is /var/task/model.onnx
                out = json.dumps(json.loads(body)["outputs"])
                if ref is None:
                    ref = out
                elif out != ref:
                    raise SystemExit("%s answered differently from the first answer" % k)
        for k in fns:
            invoke(port, "ic-" + k, payload)  # a warm instance for the warm rounds
            for _ in range(WARM):
                warm[k].append(invoke(port, "ic-" + k, payload)[0])
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        subprocess.run(["podman", "rmi", "-f", TAG], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    med = statistics.median
    print("runtime image vs exec, %s, %d interleaved cold rounds, %d warm invokes each" %
          (os.path.basename(os.path.dirname(MODEL)) or MODEL, COLD, WARM))
    print("  image: %s bytes, built by faasml package --format oci in %.1f s" % (size, build_s))
    for k in fns:
        print("  %-5s cold e2e p50 %7.1f ms (min %7.1f, max %7.1f)  Init Duration p50 %7.1f ms"
              "  warm e2e p50 %6.2f ms" % (k, med(e2e[k]), min(e2e[k]), max(e2e[k]),
                                            med(init[k]), med(warm[k])))
    print("  ratio image/exec: cold e2e %.2fx, Init Duration %.2fx, warm e2e %.2fx" %
          (med(e2e["image"]) / med(e2e["exec"]), med(init["image"]) / med(init["exec"]),
           med(warm["image"]) / med(warm["exec"])))
    print("  outputs equal across paths and rounds")


main()
