"""A TCP load balancer on loopback, as production puts in front of Keycloak's nodes and of the
backend's processes: each new connection goes to the next upstream in turn, and to the one after
when an upstream refuses the connection (a dead node), so clients see one address."""

import contextlib
import itertools
import socket
import threading


class Balancer:
    def __init__(self, upstreams: list[int], connect_timeout: float = 2.0):
        self.upstreams = list(upstreams)  # ports on 127.0.0.1
        self.connect_timeout = connect_timeout
        self.served = {port: 0 for port in self.upstreams}  # connections per upstream
        self._turn = itertools.count()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"balancer-{self.port}").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _upstream(self) -> socket.socket | None:
        first = next(self._turn)
        for index in range(len(self.upstreams)):
            port = self.upstreams[(first + index) % len(self.upstreams)]
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=self.connect_timeout)
            except OSError:
                continue
            upstream.settimeout(None)
            self.served[port] += 1
            return upstream
        return None

    def _serve(self, client: socket.socket):
        upstream = self._upstream()
        if upstream is None:
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _pipe(source: socket.socket, target: socket.socket):
    """Copies until either side closes, then closes both (a killed upstream resets its clients)."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
