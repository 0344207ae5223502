// The widget's head: who the visitor talks to (or that they wait), the bar under it with what the
// chat is and the way to end it (with a confirmation), and the button that minimises the widget.

import { isolated, setIsolatedText } from "../core/messages.js";

export class Header {
  /**
   * @param {object} options
   * @param {boolean} options.embedded  in an iframe on a host page: it can be minimised
   * @param {function(): void} options.onEnd  the visitor confirmed: end the chat
   * @param {function(): void} options.onMinimise
   */
  constructor({ embedded, onEnd, onMinimise }) {
    const $ = (id) => document.getElementById(id);
    this.embedded = embedded;
    this.avatar = $("hd-avatar");
    this.title = $("hd-title");
    this.subtitle = $("hd-subtitle");
    this.chatbar = $("hd-chatbar");
    this.chatbarInfo = $("hd-chatbar-info");
    this.end = $("hd-end");
    this.minimise = $("hd-minimise");
    this.confirmBar = $("hd-end-confirm");
    this.endYes = $("hd-end-yes");
    this.endNo = $("hd-end-no");
    this.end.addEventListener("click", () => {
      this.confirmBar.hidden = false;
      this.endYes.focus();
    });
    this.endNo.addEventListener("click", () => {
      this.hideConfirm();
      this.end.focus();
    });
    this.endYes.addEventListener("click", () => {
      this.hideConfirm();
      onEnd();
    });
    this.minimise.addEventListener("click", onMinimise);
  }

  get confirming() {
    return !this.confirmBar.hidden;
  }

  hideConfirm() {
    this.confirmBar.hidden = true;
  }

  /** `view`: "loading" | "form" | "chat" | "blocked"; `chat`: the visitor's chat object, or null. */
  render(view, chat) {
    this.minimise.hidden = !this.embedded;
    let title = "Chat with us";
    let subtitle = "We're here to help.";
    let avatar = "";
    if (view === "chat") {
      if (!chat || chat.status === "queued") {
        title = "Waiting for an agent…";
        subtitle = "Someone will be with you shortly.";
        avatar = "…";
      } else if (chat.status === "active") {
        title = chat.agent_name || "Agent";
        subtitle = "Online now";
        avatar = initials(title);
      } else {
        title = "Chat ended";
        subtitle = "Thanks for chatting with us.";
      }
    } else if (view === "blocked") {
      subtitle = ""; // the view below says it, in the server's words
    }
    setIsolatedText(this.title, title); // an agent's name, in its own direction
    this.subtitle.textContent = subtitle;
    this.avatar.textContent = avatar;
    this.avatar.classList.toggle("hd-avatar--icon", avatar === "");

    // The bar under the header: what this chat is, and the way to end it.
    this.chatbar.hidden = view !== "chat";
    this.end.hidden = !(chat && chat.status !== "ended");
    const info = [];
    if (chat && chat.department) info.push(isolated(chat.department));
    if (chat) info.push(`Chat ${chat.id}`);
    else info.push("Starting your chat…");
    this.chatbarInfo.replaceChildren(...info.flatMap((part, i) => (i ? [" · ", part] : [part])));
  }
}

function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => p[0].toUpperCase()).join("") || "?";
}
