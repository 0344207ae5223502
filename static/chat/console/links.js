// Deep links into the console: /console/#chat=<ID> opens (watches) that chat's panel, on load and
// whenever the address's fragment changes (the ticket pages link to a live chat so, and so does the
// alert of a chat transferred to me). The fragment is then taken out of the address, so that the same
// link works again and a reload does not reopen a tab the agent has closed.

/** The chat ID of a #chat=<ID> fragment, or null. */
export function linkedChat(hash) {
  const match = /^#chat=([A-Za-z0-9_-]{1,64})$/.exec(hash || "");
  return match ? match[1] : null;
}

/** Call `open(id)` for the link the page was opened with, and for each one followed after. */
export function followChatLinks(open) {
  const follow = () => {
    const id = linkedChat(window.location.hash);
    if (!id) return;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    open(id);
  };
  window.addEventListener("hashchange", follow);
  follow();
}
