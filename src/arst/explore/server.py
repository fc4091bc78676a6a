"""The live explorer's local web server: the standard library's ThreadingHTTPServer, one page
and a small interface that Explorer answers.

  GET  /                                         the page
  GET  /api/info                                 the model, its layers, the pictures (JSON)
  GET  /api/frame?picture=K&alpha=A&size=S&client=C&quality=Q   one update (PNG); 409 when a
                                                 newer request from client C replaced it while it
                                                 waited; Q: exact (default) or preview (int8)
  GET  /api/original?picture=K&size=S            the picture as the model sees it (PNG)
  POST /api/upload?name=N                        the request body is an image file (JSON: the picture)

Every error is JSON, {"error": "..."}, one line naming the input and what is wrong; the
server answers the next request as before."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..errors import ArstError
from . import page
from .live import Explorer, Superseded

log = logging.getLogger("arst")


class _Handler(BaseHTTPRequestHandler):
    explorer: Explorer  # set on the subclass that make_server builds
    server_version = "arst-explore"

    def log_message(self, format, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _answer(self, route) -> None:
        """Run `route`; a user's mistake is a 400 with its message, anything else a 500 that
        says so (logged with its traceback); neither stops the server."""
        try:
            route()
        except Superseded as exc:
            self._json(409, {"superseded": True, "error": str(exc)})
        except ArstError as exc:
            self._json(400, {"error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away mid-answer
        except Exception as exc:
            log.exception("arst explore: %s failed", self.path)
            self._json(500, {"error": f"internal error ({type(exc).__name__}: {exc}); the server "
                                      "goes on, see its log"})

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def do_GET(self) -> None:
        routes = {"/": self._page, "/index.html": self._page, "/api/info": self._info,
                  "/api/frame": self._frame, "/api/original": self._original}
        route = routes.get(urlsplit(self.path).path)
        if route is None:
            self._json(404, {"error": f"no such page: {urlsplit(self.path).path}"})
            return
        self._answer(route)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/upload":
            self._json(404, {"error": f"no such page: {urlsplit(self.path).path}"})
            return
        self._answer(self._upload)

    def _page(self) -> None:
        self._send(200, page("live.html").encode(), "text/html; charset=utf-8")

    def _info(self) -> None:
        self._json(200, self.explorer.info())

    def _frame(self) -> None:
        q, ex = self._query(), self.explorer
        alpha, size, quality = ex.alpha(q.get("alpha", "")), ex.size(q.get("size")), ex.quality(q.get("quality"))
        frame = ex.gate.run(q.get("client", "anonymous"),
                            lambda: ex.update(q.get("picture", ""), alpha, size, quality))
        self._send(200, frame.png, "image/png", {
            "X-Arst-Alpha": ",".join(f"{a:g}" for a in frame.alpha),
            "X-Arst-Quality": frame.quality,
            "X-Arst-Model-Ms": f"{1e3 * frame.model_seconds:.1f}",
            "X-Arst-Update-Ms": f"{1e3 * frame.seconds:.1f}",
            "X-Arst-Dropped": str(ex.gate.dropped)})

    def _original(self) -> None:
        q, ex = self._query(), self.explorer
        self._send(200, ex.original(q.get("picture", ""), ex.size(q.get("size"))), "image/png")

    def _upload(self) -> None:
        name = self._query().get("name", "upload")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._json(411, {"error": f"{name}: the upload has no Content-Length"})
            return
        length = int(length)
        refusal = self.explorer.refuse_upload(name, length)
        if refusal:
            self._drain(length)
            self._json(413, {"error": refusal})
            return
        picture = self.explorer.upload(self.rfile.read(length), name)
        self._json(200, picture.describe())

    def _drain(self, length: int) -> None:
        """Read and drop a refused body, so the browser gets the answer, not a reset connection."""
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)


def make_server(explorer: Explorer, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server for `explorer` on host:port (port 0: a free one; server.server_address says
    which), not yet serving."""
    handler = type("ExploreHandler", (_Handler,), {"explorer": explorer})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread


def url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
