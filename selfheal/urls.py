from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from .api import api
from .views import health

urlpatterns = [
    path("", RedirectView.as_view(url="/proposals/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("health", health, name="health"),
    path("proposals/", include("proposals.urls")),
    path("", include("monitoring.urls")),
    path("", include("patterns.urls")),
    path("", include("dashboard.urls")),
]
