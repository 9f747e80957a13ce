from django.urls import path

from dashboard import accounts, views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:client_slug>/", views.client_dashboard, name="client"),
    path("<slug:client_slug>/logs/", views.log_list, name="logs"),
    path("<slug:client_slug>/logs/export.csv", views.log_export_csv, name="logs_csv"),
    path("<slug:client_slug>/logs/export.json", views.log_export_json, name="logs_json"),
    path("<slug:client_slug>/logs/<uuid:log_id>/", views.log_detail, name="log"),
    path("<slug:client_slug>/logs/<uuid:log_id>/raw.json", views.log_raw, name="log_raw"),
]

# Mounted at /accounts/ before allauth's own routes, which they replace (same names, so
# allauth's links and reverse() reach them): see dashboard.accounts.
account_urlpatterns = [
    path("email/", accounts.email_management_closed, name="account_email"),
    path("password/reset/", accounts.password_reset, name="account_reset_password"),
    path("notifications/", accounts.notification_settings, name="account_notifications"),
]
