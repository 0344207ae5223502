from django.urls import path

from . import views

urlpatterns = [
    path("widget/", views.widget_frame, name="widget"),
    path("console/", views.console, name="console"),
    path("demo/", views.demo, name="demo"),
    path("demo/<slug:page>/", views.demo, name="demo-page"),
]
