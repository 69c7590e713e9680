"""A fault-injecting HTTP proxy in front of moto's S3 server, for the S3 reliability tests.

Clients talk to the proxy as if it were S3. Each request is either forwarded untouched to the
real (moto) server or answered by the next planned fault: an S3 error response (503 SlowDown,
500 InternalError, 403 AccessDenied, ...) or a delay before forwarding. botocore therefore sees
real HTTP responses and goes through its real retry path.
"""

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message><Resource>{path}</Resource>"
    "<RequestId>fault-{n}</RequestId></Error>"
)


@dataclass(frozen=True)
class Fault:
    """An S3 error response (status > 0), or a delay in seconds before forwarding (status 0)."""

    status: int = 0
    code: str = ""
    message: str = ""
    delay_s: float = 0.0


SLOW_DOWN = Fault(503, "SlowDown", "Please reduce your request rate.")
INTERNAL_ERROR = Fault(500, "InternalError", "We encountered an internal error. Please try again.")
ACCESS_DENIED = Fault(403, "AccessDenied", "Access Denied")


@dataclass
class FaultPlan:
    """What the proxy does next: `faults` are served in order to requests that `matches` accepts."""

    faults: list[Fault] = field(default_factory=list)
    matches: Callable[[str, str], bool] = lambda method, path: True
    permanent: Fault | None = None  # served to every matching request once `faults` is used up
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status sent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            if not self.matches(method, path):
                return None
            if self.faults:
                return self.faults.pop(0)
            return self.permanent

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.log.append((method, path, status))

    def injected(self) -> list[tuple[str, str, int]]:
        return [entry for entry in self.log if entry[2] >= 400]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects

    def log_message(self, format, *args):  # quiet
        pass

    def _handle(self):
        plan: FaultPlan = self.server.plan
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        fault = plan.next_fault(self.command, path)
        if fault is not None and fault.status:
            payload = ERROR_BODY.format(code=fault.code, message=fault.message, path=path, n=len(plan.log)).encode()
            self.send_response(fault.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            plan.record(self.command, path, fault.status)
            return
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
            upstream.request(self.command, self.path, body=body if body or length else None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            plan.record(self.command, path, response.status)
        finally:
            upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@contextmanager
def fault_proxy(upstream_url: str, plan: FaultPlan) -> Iterator[str]:
    """Serves the proxy on a free loopback port; yields its endpoint URL."""
    upstream = urlsplit(upstream_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.plan = plan
    server.upstream_host, server.upstream_port = upstream.hostname, upstream.port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
