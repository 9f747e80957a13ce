"""Production server configuration: ``gunicorn flusso_site.wsgi`` (gunicorn reads this file).

Chosen from the ingestion and dashboard benchmarks (docs/performance.md); every value can be
changed from the environment without editing this file.

- gunicorn's ``gthread`` workers, as ``flusso_site.gunicorn_worker.BufferingThreadWorker``:
  each worker process serves GUNICORN_THREADS requests at once, so a request waiting on
  the database holds one thread, not a whole process, and keep-alive connections from
  shippers and browsers are reused instead of reopened. Unlike plain ``gthread``, the
  worker reads each request (headers and body) in its event loop and gives it to a thread
  only once complete, within deadlines: slow or idle clients hold a connection slot, never
  a thread. Its limits come from the environment too: GUNICORN_HEADER_TIMEOUT (10 s),
  GUNICORN_BODY_TIMEOUT (10 s, plus the body's length at GUNICORN_BODY_MIN_RATE bytes a
  second, default 256 KiB/s), GUNICORN_MAX_BODY_BYTES (16 MiB, chunk framing included),
  GUNICORN_BUFFER_BYTES (64 MiB a worker for requests still arriving: WEB_CONCURRENCY
  times that is the most a host buffers), GUNICORN_BUFFER_RESERVE_BYTES (a quarter of it,
  kept from bodies for every request's first 64 KiB), GUNICORN_BUFFER_PEER_BYTES (a
  quarter of it, at least one largest request: what one address may buffer bodies in;
  behind a proxy, set it to GUNICORN_BUFFER_BYTES) and GUNICORN_SOCKET_TIMEOUT (10 s for
  each read or write a thread still makes). See that module's docstring.
- Two workers per core by default (Python holds one core per process at a time; the
  database round trips leave room for a second).
- Bounded request line, header count and header size. The worker ``timeout`` only
  replaces a worker whose event loop stopped; it cannot stop one slow request, so the
  application bounds its own work (body sizes, decompression). A front proxy should still
  buffer request bodies and set its own timeouts (README).
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count())
worker_class = os.environ.get(
    "GUNICORN_WORKER_CLASS", "flusso_site.gunicorn_worker.BufferingThreadWorker"
)
threads = _int("GUNICORN_THREADS", 4)
# Connections a worker holds at once (being read, served or kept alive), gunicorn's
# default stated: it bounds how many slow clients one worker keeps reading from.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
# Seconds a worker may spend silent on one request before it is replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle keep-alive connection is kept: shippers send a batch a second.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Request line and headers, bounded (gunicorn's defaults, stated).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# The application is loaded once, before the workers fork: every worker is ready to take
# connections the moment it starts (with lazy loading, the first worker up took every
# keep-alive connection of a burst while the others were still importing Django, and kept
# them), and the workers share the loaded code's memory.
preload_app = True
# A worker is replaced after this many requests (with jitter), bounding any slow leak.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
# gunicorn's control socket (gunicornc) defaults to one path per user, shared by every
# gunicorn that user runs on the host (tests, the soak, a second instance): off unless an
# operator names a path of its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET", "")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Request bodies never reach the access log: only method, path (no query string), status,
# size and time.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server: object) -> None:
    """Once the application is loaded, before any worker forks: the objects loaded so far
    (Django, the URLconf, the serializers) live as long as the process, so the garbage
    collector is told to leave them alone. Otherwise every full collection in a worker
    walked them all, a pause of tens of milliseconds on one request in a few hundred, and
    touching them undid the memory the workers share with the master."""
    import gc

    gc.freeze()
