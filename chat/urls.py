from django.urls import path, re_path

from . import console_tickets, views
from .attachments import views as files

urlpatterns = [
    path("widget/", views.widget_frame, name="widget"),
    path("console/", views.console, name="console"),
    path("console/tickets/", console_tickets.ticket_list, name="console-tickets"),
    path("console/tickets/<str:ref>/", console_tickets.ticket_detail, name="console-ticket"),
    path("console/tickets/<str:ref>/reopen/", console_tickets.ticket_reopen, name="console-ticket-reopen"),
    path("console/tickets/<str:ref>/resend/", console_tickets.ticket_resend, name="console-ticket-resend"),
    # Only what a chat ID and a file's ref can be: anything else (a NUL, a slash) is a plain 404.
    re_path(r"^chat/(?P<chat_id>[A-Za-z0-9]{1,12})/uploads/$", files.visitor_upload, name="visitor-upload"),
    re_path(r"^console/chats/(?P<chat_id>[A-Za-z0-9]{1,12})/uploads/$", files.agent_upload, name="agent-upload"),
    re_path(r"^files/(?P<ref>[A-Za-z0-9_-]{1,32})/$", files.file_view, name="file"),
    re_path(r"^files/(?P<ref>[A-Za-z0-9_-]{1,32})/thumbnail/$", files.file_view, {"part": "thumbnail"},
            name="file-thumbnail"),
    path("demo/", views.demo, name="demo"),
    path("demo/<slug:page>/", views.demo, name="demo-page"),
]
