"""Where an API request's time goes: pyinstrument over in-process WSGI calls on the bench data.

python3 -m bench.profile_api [ROUTE] [--requests N] [--password]
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
import tempfile
from pathlib import Path

from bench.seed import BENCH_PASSWORD, seed
from core import init_box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("route", nargs="?", default="/mail/users?format=json")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--password", action="store_true", help="log in with the password")
    args = parser.parse_args()
    from pyinstrument import Profiler

    from api_server import make_app

    box = init_box(Path(tempfile.mkdtemp(prefix="miab-prof-")) / "box")
    admin = seed(box)
    secret = BENCH_PASSWORD if args.password else box.auth.user_api_key(admin)
    auth = "Basic " + base64.b64encode(f"{admin}:{secret}".encode()).decode()
    app = make_app(box)
    path, _, query = args.route.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": auth,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }

    def call() -> None:
        status = []
        body = b"".join(app(dict(environ), lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), (status, body[:200])

    call()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.requests):
        call()
    profiler.stop()
    sys.stdout.write(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
