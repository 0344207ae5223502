// The head of a chat's panel: who the visitor is (and whether they are there), the chat's facts
// with its ticket as a link to the ticket's page, and what I can do with it (accept, end with a
// confirmation, block the visitor in a dialog — only when my welcome's `agent.can_block` says I
// may, for any chat, an ended one too —, close the tab: the keyboard's and screen reader's way, the
// × on the tab being the mouse's). Its labels and my star are parts of their own (labels.js,
// stars.js); the Block dialog is block-dialog.js, which hears this part's frames and errors.

import { setIsolatedText } from "../core/messages.js";
import { timeFormat } from "../core/time.js";
import * as frames from "../core/frames.js";
import { showPresence } from "./presence.js";
import { BlockDialog } from "./block-dialog.js";

const STATUS = { queued: "Waiting", active: "Active", ended: "Ended" };

export class Header {
  constructor(view) {
    this.view = view;
    const el = view.el;
    const q = (sel) => el.querySelector(sel);
    this.fields = {};
    for (const field of el.querySelectorAll(".hd-panel__head [data-field]")) this.fields[field.dataset.field] = field;
    this.confirm = q("[data-role=confirm]");
    this.acceptButton = q("[data-action=accept]");
    this.endButton = q("[data-action=end]");
    this.endYes = q("[data-action=end-yes]");
    this.closeButton = q("[data-action=close]");
    this.blockButton = q("[data-action=block]");
    this.blockDialog = new BlockDialog(view, this.blockButton);
    this.presence = q("[data-role=head-presence]");
    this.fields.id.textContent = view.id;
    this.fields.name.textContent = "Loading…";
    this.bind();
  }

  bind() {
    const { view } = this;
    this.acceptButton.addEventListener("click", () => view.ctx.accept(view.id));
    this.closeButton.addEventListener("click", () => view.ctx.close(view.id));
    this.blockButton.addEventListener("click", () => this.blockDialog.open());
    this.endButton.addEventListener("click", () => {
      this.confirm.hidden = false;
      this.endYes.focus();
    });
    this.confirm.querySelector("[data-action=end-no]").addEventListener("click", () => {
      this.confirm.hidden = true;
      this.endButton.focus();
    });
    this.endYes.addEventListener("click", () => {
      this.confirm.hidden = true;
      if (!view.ctx.send(frames.chatEnd(view.id))) view.ctx.alert("You're offline. Try again when the connection is back.");
    });
  }

  update(chat) {
    const f = this.fields;
    if (chat) {
      setIsolatedText(f.name, chat.visitor?.name || "Visitor");
      setIsolatedText(f.email, chat.visitor?.email || "", "ltr");
      f.status.textContent = STATUS[chat.status] || chat.status;
      f.status.dataset.status = chat.status;
      setIsolatedText(f.department, chat.department || "—");
      this.showTicket(chat.ticket_ref);
      setIsolatedText(f.agent, chat.agent_name || "—");
      f.started.textContent = chat.started_at ? timeFormat.format(new Date(chat.started_at)) : "—";
    }
    const status = chat ? chat.status : "";
    this.acceptButton.hidden = status !== "queued";
    this.endButton.hidden = !(status === "queued" || this.view.mine);
    if (status === "ended") this.confirm.hidden = true;
    // Rights follow the user: a welcome (every connect) says again whether I may block.
    this.blockButton.hidden = !(chat && this.view.ctx.me().canBlock);
    if (this.blockButton.hidden) this.blockDialog.close();
  }

  frame(frame) {
    if (frame.type === "visitor.blocked") this.blockDialog.blocked(frame);
  }

  error(frame) {
    return this.blockDialog.error(frame);
  }

  destroy() {
    this.blockDialog.destroy();
  }

  showDetails(details) {
    this.blockDialog.showDetails(details);
    this.showTicket(details.ticket?.ref);
    const state = details.visitor?.presence;
    this.presence.hidden = !state;
    if (state) showPresence(this.presence, state, { short: true });
  }

  /** The ticket's ref, a link to its page. */
  showTicket(ref) {
    const f = this.fields;
    if (!ref) {
      if (!f.ticket.firstChild) f.ticket.textContent = "—";
      return;
    }
    const link = f.ticket.querySelector("a") || document.createElement("a");
    link.href = this.view.ctx.ticketUrl(ref);
    link.textContent = ref;
    link.title = "Open the ticket's page";
    if (!link.parentNode) f.ticket.replaceChildren(link);
  }
}
