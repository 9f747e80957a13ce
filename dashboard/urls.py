from django.urls import path, register_converter

from dashboard import accounts, exports, views, views_compare, views_saved_views
from dashboard.monitors import views as monitor_views
from dashboard.monitors import views_reports
from dashboard.monitors.converters import UnsubscribeTokenConverter
from dashboard.reviews import views as review_views

register_converter(UnsubscribeTokenConverter, "unsubscribe_token")

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    # Fixed paths before the "<client_slug>/" routes, which would take them as a client:
    # collector.models.RESERVED_SLUGS keeps any client from being named like them.
    path("report/", views_reports.owner_report_page, name="owner_report"),
    path("compare/", views_compare.owner_compare, name="owner_compare"),
    path("unsubscribe/<unsubscribe_token:token>/", views_reports.unsubscribe, name="unsubscribe"),
    path("<slug:client_slug>/", views.client_dashboard, name="client"),
    path("<slug:client_slug>/logs/", views.log_list, name="logs"),
    path("<slug:client_slug>/report/", views_reports.client_report_page, name="report"),
    path("<slug:client_slug>/compare/", views_compare.compare, name="compare"),
    path(
        "<slug:client_slug>/logs/views/",
        views_saved_views.saved_view_create_view,
        name="saved_view_create",
    ),
    path(
        "<slug:client_slug>/logs/views/<int:view_id>/delete",
        views_saved_views.saved_view_delete_view,
        name="saved_view_delete",
    ),
    path("<slug:client_slug>/logs/export.csv", exports.log_export_csv, name="logs_csv"),
    path("<slug:client_slug>/logs/export.json", exports.log_export_json, name="logs_json"),
    path("<slug:client_slug>/logs/<uuid:log_id>/", views.log_detail, name="log"),
    path("<slug:client_slug>/logs/<uuid:log_id>/raw.json", views.log_raw, name="log_raw"),
    path(
        "<slug:client_slug>/logs/<uuid:log_id>/verdict",
        review_views.verdict_record_view,
        name="log_verdict",
    ),
    path("<slug:client_slug>/review/", review_views.review_queue_page, name="review"),
    path("<slug:client_slug>/review/next/", review_views.review_next, name="review_next"),
    path("<slug:client_slug>/alerts/", monitor_views.alert_list, name="alerts"),
    path(
        "<slug:client_slug>/alerts/<int:alert_id>/acknowledge",
        monitor_views.alert_acknowledge_view,
        name="alert_acknowledge",
    ),
    path(
        "<slug:client_slug>/alerts/<int:alert_id>/resolve",
        monitor_views.alert_resolve_view,
        name="alert_resolve",
    ),
]

# Mounted at /accounts/ before allauth's own routes, which they replace (same names, so
# allauth's links and reverse() reach them): see dashboard.accounts.
account_urlpatterns = [
    path("email/", accounts.email_management_closed, name="account_email"),
    path("password/reset/", accounts.password_reset, name="account_reset_password"),
    path("notifications/", accounts.notification_settings, name="account_notifications"),
    path("preferences/", accounts.preferences, name="account_preferences"),
]
