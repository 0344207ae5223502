"""Files in chats: what may be sent (``kinds``), how a name is made safe (``names``), how an image is
checked and re-encoded (``images``), how an upload is read, typed and stored (``intake``, ``storage``),
the one service that posts it as a message (``services``) and the views that take and serve files
(``views``). docs/protocol.md, "Files", is the contract."""
