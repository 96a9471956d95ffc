#!/usr/bin/python3
"""A small HTTP/1.1 keep-alive test server for `faasml load` integration tests.

Prints `listening on http://127.0.0.1:PORT` first. Logs one line per request to --log:
  recv_wall_ns method path body_len authorization(prefix) x-amz-date(present) log-type
Behaviour by path:
  .../throttle   -> 429 with Retry-After
  .../fail       -> 500
  .../fnerror    -> 200 with X-Amz-Function-Error: Unhandled
  anything else  -> 200 {"ok":true} with X-Faasml-Instance and X-Faasml-Cold headers, and an
                    X-Amz-Log-Result REPORT tail when the request asked for X-Amz-Log-Type: Tail
--stall-at N --stall-ms MS: when request number N (1-based) arrives, every response waits until
  MS after that moment (the whole server stalls once).
--die-at N: exit right after answering request N (a target that goes away mid-run).
"""
import argparse
import base64
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--log", default=None)
ap.add_argument("--stall-at", type=int, default=0)
ap.add_argument("--stall-ms", type=float, default=0)
ap.add_argument("--die-at", type=int, default=0)
args = ap.parse_args()

lock = threading.Lock()
state = {"n": 0, "stall_until": 0.0}
logf = open(args.log, "a", buffering=1) if args.log else None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_any(self):
        now_wall = time.time_ns()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            state["n"] += 1
            k = state["n"]
            if args.stall_at and k == args.stall_at:
                state["stall_until"] = time.monotonic() + args.stall_ms / 1000.0
            until = state["stall_until"]
            if logf:
                auth = (self.headers.get("Authorization") or "-")[:16].replace(" ", "_")
                logf.write("%d %s %s %d %s %d %s\n" % (
                    now_wall, self.command, self.path, len(body), auth,
                    1 if self.headers.get("X-Amz-Date") else 0,
                    self.headers.get("X-Amz-Log-Type") or "-"))
        wait = until - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        code, extra, out = 200, [], b'{"ok":true}'
        if self.path.endswith("/throttle"):
            code, extra = 429, [("Retry-After", "1")]
            out = b'{"Type":"User","message":"Rate Exceeded."}'
        elif self.path.endswith("/fail"):
            code, out = 500, b'{"error":"boom"}'
        elif self.path.endswith("/fnerror"):
            extra = [("X-Amz-Function-Error", "Unhandled")]
        else:
            extra = [("X-Faasml-Instance", str(k % 3)), ("X-Faasml-Cold", "1" if k == 1 else "0")]
            if self.headers.get("X-Amz-Log-Type") == "Tail":
                rep = ("START RequestId: r%d Version: $LATEST\nEND RequestId: r%d\n"
                       "REPORT RequestId: r%d\tDuration: 12.50 ms\tBilled Duration: 13 ms\t"
                       "Memory Size: 1024 MB\tMax Memory Used: 80 MB\t%s\n") % (
                           k, k, k, "Init Duration: 250.25 ms\t" if k == 1 else "")
                extra.append(("X-Amz-Log-Result", base64.b64encode(rep.encode()).decode()))
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        for h, v in extra:
            self.send_header(h, v)
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        if args.die_at and k >= args.die_at:
            os._exit(0)

    do_GET = do_POST = do_PUT = handle_any


class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


srv = S(("127.0.0.1", 0), H)
print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
