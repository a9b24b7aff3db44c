from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from distillguard.watermark.keys import MasterSecret


@pytest.fixture(scope="session")
def tiny_lm():
    from distillguard.watermark.models import load_model

    torch.set_num_threads(1)
    return load_model()


@pytest.fixture()
def master() -> MasterSecret:
    return MasterSecret(b"T" * 32)


class StandIn:
    """A loopback OpenAI-compatible chat server whose answers come from a Python function.

    ``answer(prompt, n)`` returns the text for the n-th request, or raises ``Fail(status)``
    to send an HTTP error, or ``Hang(seconds)`` to stall (client timeouts).
    """

    def __init__(self, answer: Callable[[str, int], str]) -> None:
        self.answer = answer
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                n = outer.count
                outer.count += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                try:
                    text = outer.answer(prompt, n)
                except Fail as exc:
                    self.send_response(exc.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "boom"}')
                    return
                except Hang as exc:
                    exc.event.wait(exc.seconds)
                    return
                data = json.dumps(
                    {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Fail(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class Hang(Exception):
    def __init__(self, seconds: float, event: threading.Event) -> None:
        self.seconds = seconds
        self.event = event


@pytest.fixture()
def stand_in() -> Iterator[type[StandIn]]:
    yield StandIn
