// One chat in the console: its panel (cloned from the page's <template>), made of parts.
//
// A part is a class constructed with the chat view, `new Part(view)`, that finds its elements in
// `view.el` (the panel) and may have any of:
//   update(chat)   the agent chat object (protocol `chat`), each time it changes; null at first
//   frame(frame)   each server frame about this chat, in order. `message` and `message.ack` come
//                  only when their seq is new to this view (the cursor has taken them already)
//   showDetails(d) the chat's details (ticket, visitor, my star, choices: core/details.js) each time
//                  they change; kept by the Details part (details.js), first of all parts
//   error(frame)   an `error` about this chat (its `frame` names what was refused); return true when
//                  the part has shown it, next to what was refused. Not shown by any: the alert bar
//   destroy()      the view goes away (tab closed, chat no longer mine)
// Parts reach each other through the view (`view.timeline`, `view.composer`, …) and the page
// through `view.ctx` (see app.js): send(frame), sendMessage(frame), me(), maxChars, alert(text),
// announce(text), accept(id), close(id), isActive(id), changed(view), ticketUrl(ref).
//
// To add a part (a header, a properties pane): construct it in the constructor below, in the order
// frames should reach it, and give its markup a place in the panel template (console.html).

import { Details } from "./details.js";
import { Header } from "./header.js";
import { Labels } from "./labels.js";
import { Stars } from "./stars.js";
import { Timeline } from "./timeline.js";
import { Receipts } from "./receipts.js";
import { Draft } from "./drafts.js";
import { Composer } from "./composer.js";
import { Uploads } from "./uploads.js";
import { Pane } from "./pane.js";
import { Pages } from "./pages.js";
import { TicketTab } from "./ticket-tab.js";
import { ChatTab } from "./chat-tab.js";

export class ChatView {
  /**
   * @param {string} id  the chat ID
   * @param {object} ctx  what the page gives every view (app.js)
   * @param {object} options  {seenSeq}: the highest seq the agent had in front of them
   */
  constructor(id, ctx, { seenSeq = 0 } = {}) {
    this.id = id;
    this.ctx = ctx;
    this.chat = null;
    this.cursor = ctx.cursors.track(id); // the seqs of this chat we have; watches start at its level
    this.seenSeq = seenSeq;
    this.unread = 0;

    this.el = ctx.template.content.firstElementChild.cloneNode(true);
    this.el.id = `hd-panel-${id}`;
    this.el.dataset.chatId = id;
    this.el.setAttribute("aria-labelledby", `hd-tab-${id}`);

    this.details = new Details(this);
    this.header = new Header(this);
    this.labels = new Labels(this);
    this.stars = new Stars(this);
    this.timeline = new Timeline(this);
    this.receipts = new Receipts(this);
    this.draft = new Draft(this);
    this.composer = new Composer(this);
    this.uploads = new Uploads(this); // files, beside the reply box
    this.pane = new Pane(this);
    this.pages = new Pages(this);
    this.ticketTab = new TicketTab(this);
    this.chatTab = new ChatTab(this);
    this.parts = [this.details, this.header, this.labels, this.stars, this.timeline, this.receipts, this.draft,
      this.composer, this.uploads, this.pane, this.pages, this.ticketTab, this.chatTab];
    this.update(null);
  }

  /** Adds a part after those there; it hears the chat as it stands at once. */
  addPart(part) {
    this.parts.push(part);
    if (part.update) part.update(this.chat);
    return part;
  }

  /** Whether the chat is active and assigned to me: I may write in it. */
  get mine() {
    return Boolean(this.chat) && this.chat.status === "active" && this.chat.agent_id === this.ctx.me().id;
  }

  get name() {
    return this.chat?.visitor?.name || this.id;
  }

  update(chat) {
    if (chat) this.chat = chat;
    for (const part of this.parts) if (part.update) part.update(this.chat);
    this.ctx.changed(this);
  }

  /** The details changed (details.js): every part that shows them hears it. */
  showDetails(details) {
    for (const part of this.parts) if (part.showDetails) part.showDetails(details);
  }

  /** An `error` frame about this chat; whether a part showed it where it belongs. */
  error(frame) {
    return this.parts.some((part) => part.error && part.error(frame));
  }

  frame(frame) {
    for (const part of this.parts) if (part.frame) part.frame(frame);
    const message = frame.type === "message" || frame.type === "message.ack" ? frame.message : null;
    if (message && typeof message.seq === "number") this.count(message);
  }

  /** A message new to this view: seen if in front, else maybe one more unread. */
  count(message) {
    if (this.ctx.inFront(this.id)) {
      this.seenSeq = this.cursor.top;
      this.ctx.changed(this);
    } else if (message.author === "agent") {
      // An agent replied after these: they count as read (e.g. on a new session's first load).
      this.seenSeq = Math.max(this.seenSeq, message.seq);
      if (this.unread) {
        this.unread = 0;
        this.ctx.changed(this);
      }
    } else if (message.author === "visitor" && message.seq > this.seenSeq) {
      this.unread += 1;
      this.ctx.changed(this);
      this.ctx.announce(`New message from ${message.author_name || "the visitor"}.`);
    }
  }

  markSeen() {
    this.seenSeq = this.cursor.top;
    this.unread = 0;
    this.ctx.changed(this);
  }

  destroy() {
    this.ctx.cursors.forget(this.id);
    for (const part of this.parts) if (part.destroy) part.destroy();
    this.el.remove();
  }
}
