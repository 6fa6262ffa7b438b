"""`python -m api_server [--box DIR] [--host H] [--port P]`: serve a box's API."""

from __future__ import annotations

import argparse

from api_server.serving import serve
from core.box import locate_box


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api_server", description=__doc__)
    parser.add_argument("--box", help="a folder made by `miab init` (default: the real box)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10222)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    serve(
        locate_box(args.box),
        host=args.host,
        port=args.port,
        threads=args.threads,
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
