"""Fakes of third-party HTTP services run in the test process, on 127.0.0.1."""

import contextlib
import threading


@contextlib.contextmanager
def serving(server, state):
    """Serve `server` in a thread until the block ends; `state.url` is its origin meanwhile."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
