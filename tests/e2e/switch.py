"""A TCP relay in front of the backend that a test can cut, to play "the backend is down".

It also keeps the request line of every HTTP request it relays: the log of what Keycloak asked.
"""

import re
import socket
import threading

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.[01]\r\n")


class Switch:
    """Relays 127.0.0.1:<port> to a target; `down()` closes the listener and every open link,
    so new connections are refused, and `up()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._links: set[socket.socket] = set()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._listener = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            except OSError:
                pass
            listener.close()
        with self._lock:
            for link in list(self._links):
                link.close()
            self._links.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._links.update((client, upstream))
            for a, b, log in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, log), daemon=True).start()

    def _pipe(self, source, sink, log):
        try:
            while data := source.recv(65536):
                if log:
                    self.requests += [(m.decode(), p.decode()) for m, p in REQUEST_LINE.findall(data)]
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                for s in (source, sink):
                    self._links.discard(s)
                    s.close()
