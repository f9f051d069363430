"""The dashboard's web server: a Bokeh server on its own thread of the supervising parent.

Bokeh (a pip package, in the `dashboard` extra) serves the page and its JavaScript and carries
the updates over a websocket; nothing is copied into this repository. The server binds to
127.0.0.1 by default and accepts only requests addressed to that host (a page on another origin
cannot drive it: DNS rebinding). Binding to any other host needs an explicit `--dashboard-host`;
then a random token is printed with the URL and every request must carry it (`?token=...` once,
then a cookie of this session's port).
"""
import asyncio
import hmac
import logging
import secrets
import threading

LOOPBACK = ("127.0.0.1", "localhost")
MISSING = "the dashboard needs Bokeh: pip install -e \".[dashboard]\""


def require_bokeh() -> None:
    """Raise a one-line ImportError naming the extra when Bokeh is not installed."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None


class Dashboard:
    """Serve `make(doc)` at http://host:port/ (or {url path: make}) until close(). port 0: a free
    port (see .url)."""

    def __init__(self, make, host: str = "127.0.0.1", port: int = 0):
        require_bokeh()
        self.host = host
        self.token = None if host in LOOPBACK else secrets.token_hex(16)
        self._make = make
        self._ready = threading.Event()
        self._error = None
        self._server = self._loop = None
        self._thread = threading.Thread(target=self._serve, args=(port,), name="rtcore-dashboard", daemon=True)
        self._thread.start()
        self._ready.wait(30.0)
        if self._error is not None:
            raise OSError(f"dashboard: cannot serve on {host}:{port} ({self._error})")
        if self._server is None:
            raise OSError(f"dashboard: the server on {host}:{port} did not start within 30 s")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def _serve(self, port: int) -> None:
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop
        asyncio.set_event_loop(asyncio.new_event_loop())
        logging.getLogger("bokeh").setLevel(logging.ERROR)  # a closed tab is not the operator's concern
        self._loop = IOLoop.current()
        try:
            hosts = list(LOOPBACK) if self.host in LOOPBACK else [self.host]
            apps = self._make if isinstance(self._make, dict) else {"/": self._make}
            self._server = Server({path: Application(FunctionHandler(make)) for path, make in apps.items()},
                                  io_loop=self._loop,
                                  address=self.host, port=port, allow_websocket_origin=hosts, num_procs=1,
                                  auth_provider=_guard(hosts, self.token), check_unused_sessions_milliseconds=2000,
                                  unused_session_lifetime_milliseconds=5000)
            self._server.start()
        except Exception as e:  # noqa: BLE001 - reported to the constructor as one line
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.start()

    def close(self) -> None:
        if self._loop is None or self._server is None:
            return
        server, loop = self._server, self._loop
        loop.add_callback(lambda: (server.stop(), loop.stop()))
        self._thread.join(5.0)
        self._server = None


def _guard(hosts: list, token: str | None):
    """A Bokeh AuthProvider: the request's Host must be one this server binds (with its port), and
    with a token the request must carry it (query argument or this port's cookie)."""
    from bokeh.server.auth_provider import AuthProvider
    from tornado.web import RequestHandler

    class Denied(RequestHandler):
        def get(self):
            self.set_status(403)
            self.finish("rtcore dashboard: refused (wrong host or missing token)\n")

    class Guard(AuthProvider):
        @property
        def get_user(self):
            def user(handler):
                host = handler.request.host.rsplit(":", 1)[0].strip("[]")
                if host not in hosts:
                    return None
                if token is None:
                    return "operator"
                cookie = f"rtcore_dashboard_{handler.request.host.rsplit(':', 1)[-1]}"
                given = handler.get_argument("token", None) or handler.get_cookie(cookie) or ""
                if not hmac.compare_digest(given, token):
                    return None
                if handler.get_argument("token", None):
                    handler.set_cookie(cookie, token, httponly=True, samesite="Strict")
                return "operator"
            return user

        @property
        def login_url(self):
            return "/refused"

        @property
        def login_handler(self):
            return Denied

    return Guard()
