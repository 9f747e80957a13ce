"""Settings, split by topic (base, api, accounts, dashboard, production).

``flusso_site.settings.service`` composes them for the running service;
``flusso_site.settings.test`` builds on it for the test suite. This package itself stays
empty so that importing the test settings does not first load the service's (which
refuse to start without SECRET_KEY when DEBUG is off).
"""
