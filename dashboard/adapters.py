"""allauth hooks: accounts are created by the owner, never by sign-up; the caller's
address honours TRUSTED_PROXY_COUNT; failed logins are limited so that nobody can lock
out the real users; mail is never sent where it would only be printed."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import filter_users_by_email
from allauth.core import ratelimit
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from dashboard.accounts import mail_is_configured
from flusso_site.proxies import client_ip

logger = logging.getLogger(__name__)

# ACCOUNT_RATE_LIMITS' action for failed logins on addresses no account has, per IP.
UNKNOWN_ACCOUNT_ACTION = "login_failed_unknown_account"


class ClosedSignupAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Count the attempt before the password is checked (allauth rolls it back on
        success), in one of two ways:

        - an address an account has: per account only (``login_failed``, 5 in 5
          minutes). Its owner is locked out only by failures on their own address.
        - any other address: per account as well, and per IP
          (``login_failed_unknown_account``). A flood of random addresses, all through
          the one address of a proxy, fills that bucket and no other: real users behind
          the same proxy still log in.
        """
        login = credentials.get("email", credentials.get("username", "")) or ""
        known = bool(filter_users_by_email(login))
        if not known and not ratelimit.consume(request, action=UNKNOWN_ACCOUNT_ACTION):
            raise self.validation_error("too_many_login_attempts")
        super().pre_authenticate(request, **credentials)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # With DEBUG off and no EMAIL_HOST, a message would be written to the logs (the
        # console backend), reset links included: send nothing, say so without content.
        if not mail_is_configured():
            logger.warning("Mail is not configured; %s was not sent.", template_prefix)
            return
        super().send_mail(template_prefix, email, context)
