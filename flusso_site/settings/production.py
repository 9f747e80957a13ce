"""Hardening applied whenever DEBUG is off.

The values the README recommends behind a TLS proxy make ``manage.py check --deploy``
report nothing (pinned by flusso_site/tests/test_deploy.py).
"""

from __future__ import annotations

from flusso_site.env import env_bool, env_int

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe the health check over plain HTTP, past the proxy: a redirect to
# HTTPS would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
# Cookies travel over HTTPS only unless an operator knowingly serves plain HTTP.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
# Off by default: both bind every subdomain of the host's domain (preload for years, in
# the browsers' own lists), which only the operator of that domain can decide.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
