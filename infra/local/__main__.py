"""`make run`: the wallet API on http://127.0.0.1:3000 with no AWS account and no Docker."""

import logging
import os
import signal

from infra.local.aws import LocalAws
from infra.local.server import create_server


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)  # stop as cleanly as on Ctrl-C
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own line per request instead
    logging.getLogger("botocore").setLevel(logging.WARNING)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "3000"))
    with LocalAws() as aws:
        server = create_server(aws, host, port)
        url = f"http://{host}:{server.server_port}"
        print(f"Wallet API (embedded runtime: moto in-process) on {url}")
        print("Try:")
        print(f"  curl -s '{url}/balance?userId=1'")
        print(
            f"  curl -s -X POST {url}/transactions -H 'Content-Type: application/json' "
            '-H \'Idempotent-Key: 1\' -d \'{"userId": "1", "ammount": "10", "type": "credit"}\''
        )
        print("Each event published on the wallet's bus is logged as it arrives.")
        print("Ctrl-C stops it.", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            print("\nStopped.")


if __name__ == "__main__":
    main()
