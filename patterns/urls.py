app_name = "patterns"
urlpatterns: list = []
