"""A Dask cluster on this machine that only the process which started it can use (``--executor dask``).

A Dask scheduler runs whatever a connected client submits, and a worker unpickles whatever it is sent: anyone
who can connect can run code as the user. Dask's default ``LocalCluster`` listens on plain TCP, which every local
process (and user) can reach, and its scheduler and workers serve HTTP (the dashboard, ``/health``, ``/metrics``)
even when the dashboard is off. The cluster started here is private instead:

* **Mutual TLS.** ``distributed.security.Security.temporary()`` makes a self-signed key and certificate for
  this run only. They live in the memory of gpucredit's own processes (this one and the worker processes it
  starts, which receive them at start-up; while a TLS context is built, also in a temporary directory only the
  user can read), never in a file that outlives the run. The scheduler, the nannies, the workers and the client
  require each other's certificate, so a client without this key -- a plain ``tcp://`` client, or a TLS client
  with another key -- cannot connect.
* **Loopback only.** Every server binds to 127.0.0.1.
* **No HTTP.** The scheduler and the workers build their HTTP application as Dask does but never listen on a
  port (:class:`PrivateScheduler`, :class:`PrivateWorker`): the only listening sockets are the TLS ones.

Dask is optional (``pip install 'gpucredit[dask]'``, which also brings ``cryptography`` for the key). This module
imports without it; :func:`missing_packages` names what is absent and :func:`start_private_cluster` needs it.
"""

from __future__ import annotations

import importlib.util
import logging

HOST = "127.0.0.1"
PROTOCOL = "tls://"
REQUIRED = ("distributed", "cryptography")
INSTALL_HINT = "pip install 'gpucredit[dask]'"


def missing_packages() -> list[str]:
    """The packages ``--executor dask`` needs that are not installed (empty when it can run)."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


class _NoHTTPServer:
    """Mixin for a Dask server node: build the HTTP application, never listen.

    Dask's ``ServerNode.start_http_server`` always binds a port (8787 for the scheduler, a random one for each
    worker) even with the dashboard off; this override keeps the attributes Dask sets (``http_application``,
    ``http_server``) so the rest of Dask works unchanged, and leaves the server unbound.
    """

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None):  # noqa: D102
        from distributed.http.routing import RoutingApplication
        from tornado.httpserver import HTTPServer

        self.http_application = RoutingApplication(routes)
        self.http_server = HTTPServer(self.http_application)  # never listens


def _node_classes() -> dict[str, type]:
    """:class:`PrivateScheduler` and :class:`PrivateWorker`, made on first use so that importing this module
    costs nothing and needs no Dask. They are module attributes, so pickle finds the worker class by name in
    each worker process."""
    from distributed import Scheduler, Worker

    return {"PrivateScheduler": type("PrivateScheduler", (_NoHTTPServer, Scheduler),
                                     {"__module__": __name__, "__doc__": "A Dask scheduler serving no HTTP."}),
            "PrivateWorker": type("PrivateWorker", (_NoHTTPServer, Worker),
                                  {"__module__": __name__, "__doc__": "A Dask worker serving no HTTP."})}


def _node_class(name: str) -> type:
    if name not in globals():  # made once: pickle requires the very object the module holds
        globals().update(_node_classes())
    return globals()[name]


def __getattr__(name: str):
    """Module attributes made on first use (PEP 562): ``PrivateScheduler`` and ``PrivateWorker``."""
    if name in ("PrivateScheduler", "PrivateWorker"):
        return _node_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def start_private_cluster(workers: int):
    """Start ``workers`` single-threaded worker processes and a scheduler, private to this process; return
    ``(client, cluster)``. Raises ``ImportError`` naming the extra to install if Dask is missing."""
    missing = missing_packages()
    if missing:
        raise ImportError(f"--executor dask needs the optional package(s) {', '.join(missing)}, not installed: "
                          f"{INSTALL_HINT}")
    from distributed import Client, Nanny, SpecCluster
    from distributed.security import Security
    from distributed.worker_memory import parse_memory_limit

    security = Security.temporary()
    private = {"host": HOST, "protocol": PROTOCOL, "security": security, "dashboard": False, "dashboard_address": None}
    scheduler = {"cls": _node_class("PrivateScheduler"), "options": dict(private)}
    # the memory each worker may use before its nanny restarts it: the machine's memory shared among the workers,
    # as LocalCluster sets it
    memory = parse_memory_limit("auto", 1, workers, logger=logging.getLogger(__name__))
    worker = {"cls": Nanny, "options": {**private, "nthreads": 1, "worker_class": _node_class("PrivateWorker"),
                                        "memory_limit": memory, "silence_logs": logging.ERROR}}
    cluster = SpecCluster(scheduler=scheduler, workers={k: worker for k in range(workers)}, worker=worker,
                          security=security, silence_logs=logging.ERROR)
    try:
        client = Client(cluster, security=security)
    except BaseException:
        cluster.close()
        raise
    return client, cluster
