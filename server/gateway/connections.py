"""How the gateway's HTTP server treats connections (aiohttp's ``handler_args``).

* Slow headers (slowloris): aiohttp closes a connection whose handler is idle
  when its keep-alive timer fires, and arms that timer when the connection
  opens and after each response, not when bytes arrive. So its
  ``keepalive_timeout`` is also the time a client has to finish a request's
  headers: ``header_timeout_s``. Slow bodies are :mod:`server.gateway.body`'s.
* Bodies are decompressed by :mod:`server.gateway.body`, with a cap, never by
  aiohttp on the event loop (``auto_decompress`` off).
* A malformed request line or header (a 10 KB URL, a client speaking TLS to
  the HTTP port) is the client's mistake: aiohttp answers it 400, and its log
  line goes out at info without a traceback instead of at error with one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from aiohttp.http_exceptions import HttpProcessingError

from server.config import GatewayConfig

__all__ = ["ClientMistakesLogger", "handler_args"]

# aiohttp's own default lingering: how long the rest of a refused body is
# drained before the connection closes (so the client reads the answer).
_LINGERING_S: Final = 10.0
_CLIENT_FAULTS: Final = (HttpProcessingError, ConnectionResetError)


class ClientMistakesLogger(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger with requests the client broke logged at info,
    without a traceback; everything else goes through unchanged."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, _CLIENT_FAULTS):
            self.logger.info("bad HTTP request: %s: %s", type(exc).__name__, exc)
            return
        kwargs.setdefault("exc_info", True)
        self.logger.error(msg, *args, **kwargs)


def handler_args(config: GatewayConfig) -> Mapping[str, Any]:
    return {
        "auto_decompress": False,
        "keepalive_timeout": config.header_timeout_s,
        "lingering_time": min(_LINGERING_S, config.body_timeout_s),
        "logger": ClientMistakesLogger(logging.getLogger("aiohttp.server")),
    }
