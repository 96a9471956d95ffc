#!/usr/bin/env python3
"""A small Lambda Runtime API server for tests (stdlib only).

Serves the events of a JSON file (a list of {"event": <body text>, "deadline_in_ms": int,
"trace": str}) one per GET /2018-06-01/runtime/invocation/next, in order, then holds further
GETs open. Every POST (response, error, init/error) is appended to a JSON-lines log with its
path, headers and body. Prints `listening on http://127.0.0.1:PORT` first, as faasml servers do.

usage: runtime_api_server.py EVENTS.json LOG.jsonl [--status-on-response N]
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


def main():
    events = json.load(open(sys.argv[1]))
    log_path = sys.argv[2]
    status_on_response = 202
    if len(sys.argv) > 4 and sys.argv[3] == "--status-on-response":
        status_on_response = int(sys.argv[4])
    lock = threading.Lock()
    state = {"next": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                return self.reply(404, '{"errorType":"NotFound"}')
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(events):
                time.sleep(3600)  # no more events: the runtime waits, as when frozen
                return
            ev = events[i]
            deadline = int(time.time() * 1000) + ev.get("deadline_in_ms", 60000)
            headers = [("Lambda-Runtime-Aws-Request-Id", f"req-{i}"),
                       ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                       ("Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:012345678912:function:test"),
                       ("Content-Type", "application/json")]
            if ev.get("trace"):
                headers.append(("Lambda-Runtime-Trace-Id", ev["trace"]))
            self.reply(200, ev["event"], headers)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            rec = {"path": self.path[len(PREFIX):] if self.path.startswith(PREFIX) else self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            with lock:
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            status = status_on_response if self.path.endswith("/response") else 202
            self.reply(status, '{"status":"OK"}' if status == 202 else
                       '{"errorMessage":"test","errorType":"Test.Refused"}')

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
