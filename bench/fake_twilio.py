"""The benchmarks' fake Twilio REST API, in a process of its own: the time it notes for a call request is when
the request reached it, not when the benchmark's own busy process (escalating hundreds of incidents, playing
the carrier) got round to it. One line on standard output per call accepted: `<time> <attempt id> <call sid>`;
it stops when its standard input closes.

  python -m bench.fake_twilio --port 18431 --account-sid AC... --auth-token ...
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token", required=True)
    args = parser.parse_args()
    django.setup()  # the fake's module imports the portal's models; it uses no database
    from tests.fakes.http_server import FakeHTTPServer
    from tests.fakes.twilio import FakeTwilioAPI

    server = FakeHTTPServer(port=args.port)
    api = FakeTwilioAPI(server, account_sid=args.account_sid, auth_token=args.auth_token)
    lock = threading.Lock()

    def answer(received):  # noqa: ANN001, ANN202
        at = time.time()
        reply = api.answer(received)
        if received.method == "POST" and reply.status == 201:
            found = re.search(r"%2Fvoice%2F(\d+)%2F", received.body.decode())
            with lock:
                print(f"{at:.6f} {found[1] if found else -1} {reply.body['sid']}", flush=True)
        return reply

    server.fallback = answer
    with server:
        print("ready", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
