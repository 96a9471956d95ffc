#!/usr/bin/python3
"""A minimal Lambda Runtime API server for tests of custom runtimes (`bootstrap`).

usage: rapi_stub.py EVENTS.json RESULTS.json [MAX_RESPONSE_BYTES]
EVENTS.json is a list of {"id": str, "body": <any JSON or a raw string>, "deadline_in_ms": int,
"trace_id": str}; the server hands them out in order on GET /2018-06-01/runtime/invocation/next
(with the Lambda-Runtime-* headers) and records every /response, /error and /init/error. Once
every event is answered, or an init error arrives, RESULTS.json is written (atomically) and later
/next calls block, as on Lambda between events. A /response over MAX_RESPONSE_BYTES (default
Lambda's 6291556) gets RIE's 413 and leaves the event open for an /error. The first stdout line
is the ready line.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class State:
    """Events still to hand out, answers so far, and where to write them."""

    def __init__(self, events, results_path, max_response):
        self.max_response = max_response
        self.events = list(events)
        self.pending = {e["id"] for e in events}
        self.results = {"answers": {}, "init_error": None, "next_calls": 0}
        self.path = results_path
        self.lock = threading.Lock()
        self.done = False

    def finish_if_done(self, force=False):
        """Write the results once (caller holds the lock)."""
        if not self.done and (force or not self.pending):
            self.done = True
            with open(self.path + ".tmp", "w") as fh:
                json.dump(self.results, fh)
            os.rename(self.path + ".tmp", self.path)


class Handler(BaseHTTPRequestHandler):
    """Routes the four Runtime API endpoints; anything else is a 404."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj, headers=None):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        st = self.server.state
        if self.path != PREFIX + "/invocation/next":
            return self.reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        with st.lock:
            st.results["next_calls"] += 1
            ev = st.events.pop(0) if st.events else None
        if ev is None:
            while True:  # no more events: block like a frozen Lambda sandbox
                time.sleep(3600)
        body = ev["body"] if isinstance(ev["body"], str) else json.dumps(ev["body"])
        headers = {"Lambda-Runtime-Aws-Request-Id": ev["id"],
                   "Lambda-Runtime-Deadline-Ms":
                       str(int(time.time() * 1000) + ev.get("deadline_in_ms", 60000)),
                   "Lambda-Runtime-Invoked-Function-Arn":
                       "arn:aws:lambda:us-east-1:012345678912:function:test"}
        if ev.get("trace_id"):
            headers["Lambda-Runtime-Trace-Id"] = ev["trace_id"]
        self.reply(200, body.encode(), headers)

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        err_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        with st.lock:
            if self.path == PREFIX + "/init/error":
                st.results["init_error"] = {"error_type": err_type, "body": parsed}
                st.finish_if_done(force=True)
                return self.reply(202, {"status": "OK"})
            parts = self.path[len(PREFIX):].split("/")  # ['', 'invocation', id, kind]
            if len(parts) != 4 or parts[1] != "invocation" or parts[3] not in ("response", "error"):
                return self.reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            if parts[2] not in st.pending:
                return self.reply(400, {"errorType": "InvalidRequestID",
                                        "errorMessage": parts[2]})
            if parts[3] == "response" and n > st.max_response:
                return self.reply(413, {"errorType": "RequestEntityTooLarge", "errorMessage":
                                        f"Exceeded maximum allowed payload size "
                                        f"({st.max_response} bytes)."})
            st.pending.discard(parts[2])
            st.results["answers"][parts[2]] = {"kind": parts[3], "error_type": err_type,
                                               "body": parsed}
            st.finish_if_done()
        self.reply(202, {"status": "OK"})


def main():
    """Load the events, listen on 127.0.0.1 port 0, print the ready line, serve forever."""
    with open(sys.argv[1]) as fh:
        events = json.load(fh)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(events, sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 6291556)
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
