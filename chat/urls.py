from django.urls import path

from . import console_tickets, views

urlpatterns = [
    path("widget/", views.widget_frame, name="widget"),
    path("console/", views.console, name="console"),
    path("console/tickets/", console_tickets.ticket_list, name="console-tickets"),
    path("console/tickets/<str:ref>/", console_tickets.ticket_detail, name="console-ticket"),
    path("console/tickets/<str:ref>/reopen/", console_tickets.ticket_reopen, name="console-ticket-reopen"),
    path("console/tickets/<str:ref>/resend/", console_tickets.ticket_resend, name="console-ticket-resend"),
    path("demo/", views.demo, name="demo"),
    path("demo/<slug:page>/", views.demo, name="demo-page"),
]
