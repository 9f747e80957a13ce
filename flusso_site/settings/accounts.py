"""Logins: django-allauth (e-mail and password, no open sign-up), sessions and e-mail."""

from __future__ import annotations

from flusso_site.env import env_bool, env_int, env_list, env_str

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/dashboard/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False

# E-mail (password resets): SMTP when EMAIL_HOST is set; otherwise the console in
# development and nothing at all with DEBUG off, where the console is the service's logs
# and a reset link there is a working credential (dashboard.accounts refuses resets then,
# and `manage.py check` warns).
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
elif env_bool("DEBUG", False):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Flusso <no-reply@flusso.localhost>")

# No open sign-up: the owner creates accounts in admin or with `manage.py create_user`.
ACCOUNT_ADAPTER = "dashboard.adapters.ClosedSignupAccountAdapter"
# Rate limits (counted in the default cache; share it between workers with REDIS_URL).
# Behind a TLS proxy every caller may have the proxy's address (TRUSTED_PROXY_COUNT fixes
# that only when set), so no limit on logins may be one that a flood of failures from that
# one address turns against the real users:
# - failures on an address an account has count per account only (5 in 5 minutes, also
#   allauth's two-factor code step, per user);
# - failures on addresses no account has count per account and per IP (our adapter's
#   action, dashboard.adapters): a flood of random addresses fills only that bucket;
# - allauth's limit on every login POST per IP ("login", 30/m/ip) is off: it counted the
#   real users' logins with the flood's. Each failure is counted by one of the above.
ACCOUNT_RATE_LIMITS = {
    "login": "",
    "login_failed": "5/5m/key",
    "login_failed_unknown_account": "10/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# A reset asked for an unknown address answers exactly as for a known one (allauth's
# enumeration prevention) but mails nothing: allauth's mail for unknown addresses invites
# the reader to sign up, which is closed here, and would let anyone send our mail to any
# address.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# Two-factor: authenticator apps (TOTP) with recovery codes. Optional per user, unless
# REQUIRE_MFA_FOR_STAFF: then staff and superusers without one reach only the account
# pages, to set one up (dashboard.accounts.StaffMfaRequiredMiddleware).
REQUIRE_MFA_FOR_STAFF = env_bool("REQUIRE_MFA_FOR_STAFF", False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Flusso"

# How many proxies in front of the service are the operator's own (flusso_site.proxies):
# 0 takes REMOTE_ADDR; N takes the Nth address from the right of X-Forwarded-For. Used
# for allauth's per-IP limits and the API key audit trail. Never more than the proxies
# that really rewrite the header: a client could then choose its own address.
# allauth asks the account adapter (dashboard.adapters) for the address, which asks
# flusso_site.proxies; allauth's own ALLAUTH_TRUSTED_PROXY_COUNT is therefore not set.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Only a request from one of these addresses (or networks) is a proxy's: from anywhere
# else X-Forwarded-For is the caller's own word and is ignored. The same variable tells
# gunicorn whose X-Forwarded-Proto to believe (gunicorn.conf.py).
TRUSTED_PROXY_ADDRESSES = env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"])
