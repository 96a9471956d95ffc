"""The client side the platform benchmarks share: one HTTP call, a deploy through the CLI, the
instance count from /metrics and a timed cold invoke (bench/platform/*.py import it)."""
import base64, os, re, subprocess, time
import http.client


def call(port, method, path, body=None, headers=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = dict(r.getheaders())
    c.close()
    return r.status, hdrs, data


def deploy(faasml, tmp, port, name, lines):
    path = os.path.join(tmp, name + ".yaml")
    open(path, "w").write("name: %s\n" % name + "".join(l + "\n" for l in lines))
    subprocess.run([faasml, "deploy", path, "--gateway", "http://127.0.0.1:%d" % port],
                   check=True, stdout=subprocess.DEVNULL)


def instances(port, name):
    _, _, m = call(port, "GET", "/metrics")
    return sum(int(float(l.split()[-1])) for l in m.decode().splitlines()
               if l.startswith('faasml_instances{function="%s",' % name))


def invoke_timed(port, name, payload):
    """One synchronous Lambda invoke, timed on the client: (ok, ms, Init Duration or None, body)."""
    t0 = time.perf_counter()
    st, h, body = call(port, "POST", "/2015-03-31/functions/%s/invocations" % name, payload,
                       {"X-Amz-Log-Type": "Tail"})
    ms = (time.perf_counter() - t0) * 1e3
    log = base64.b64decode(h.get("X-Amz-Log-Result", "")).decode(errors="replace")
    m = re.search(r"Init Duration: ([0-9.]+) ms", log)
    ok = st == 200 and "X-Amz-Function-Error" not in h
    return ok, ms, float(m.group(1)) if m else None, body
