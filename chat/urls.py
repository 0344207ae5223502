from django.urls import path

from . import console_tickets, views
from .attachments import views as files

urlpatterns = [
    path("widget/", views.widget_frame, name="widget"),
    path("console/", views.console, name="console"),
    path("console/tickets/", console_tickets.ticket_list, name="console-tickets"),
    path("console/tickets/<str:ref>/", console_tickets.ticket_detail, name="console-ticket"),
    path("console/tickets/<str:ref>/reopen/", console_tickets.ticket_reopen, name="console-ticket-reopen"),
    path("console/tickets/<str:ref>/resend/", console_tickets.ticket_resend, name="console-ticket-resend"),
    path("chat/<str:chat_id>/uploads/", files.visitor_upload, name="visitor-upload"),
    path("console/chats/<str:chat_id>/uploads/", files.agent_upload, name="agent-upload"),
    path("files/<str:ref>/", files.file_view, name="file"),
    path("files/<str:ref>/thumbnail/", files.file_view, {"part": "thumbnail"}, name="file-thumbnail"),
    path("demo/", views.demo, name="demo"),
    path("demo/<slug:page>/", views.demo, name="demo-page"),
]
