"""Logins: django-allauth (e-mail and password, no open sign-up), sessions and e-mail."""

from __future__ import annotations

from flusso_site.env import env_bool, env_int, env_str

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

# E-mail (password resets): the console in development, SMTP when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Flusso <no-reply@flusso.localhost>")

# No open sign-up: the owner creates accounts in admin or with `manage.py create_user`.
ACCOUNT_ADAPTER = "dashboard.adapters.ClosedSignupAccountAdapter"
# allauth's defaults, stated so nobody turns them off by accident: failed logins and
# password-reset e-mails are throttled per IP and per account (uses the default cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
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
# Two-factor is optional per user: authenticator apps (TOTP) with recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Flusso"

# How many proxies in front of the service are the operator's own (flusso_site.proxies):
# 0 takes REMOTE_ADDR; N takes the Nth address from the right of X-Forwarded-For. Used
# for allauth's per-IP limits and the API key audit trail. Never more than the proxies
# that really rewrite the header: a client could then choose its own address.
# allauth asks the account adapter (dashboard.adapters) for the address, which asks
# flusso_site.proxies; allauth's own ALLAUTH_TRUSTED_PROXY_COUNT is therefore not set.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
