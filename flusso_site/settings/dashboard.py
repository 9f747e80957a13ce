"""The dashboards: static files for charts and page settings."""

from __future__ import annotations

# plotly.js comes from the installed plotly package, served as our own static file
# (static/vendor/plotly/plotly.min.js) so the charts work on a closed network.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboard.staticfinders.PlotlyFinder",
]
