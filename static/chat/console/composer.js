// The reply box of one chat: open only while the chat is mine. Enter sends (through the outbox),
// Shift+Enter adds a line; while I type, the visitor is told so (`typing` with `active`, never the
// text), at most every TYPING_REPEAT_MS. Its toolbar and preview are formatting.js.

import { isolated, sendOnEnter, textProblem } from "../core/messages.js";
import * as frames from "../core/frames.js";
import { Formatting, shortcut } from "./formatting.js";

const TYPING_REPEAT_MS = 2000; // while I type, the visitor hears "typing" at most this often
const READY_HINT = `Enter sends, Shift+Enter adds a line. Markdown works: ${shortcut("B")} bold, ${shortcut("I")} italic, `
  + `${shortcut("K")} link.`;

export class Composer {
  constructor(view) {
    this.view = view;
    const q = (sel) => view.el.querySelector(sel);
    this.form = q("form.hd-composer");
    this.reply = q("[data-role=reply]");
    this.send = q("[data-role=send]");
    this.hint = q("[data-role=hint]");
    this.problem = q("[data-role=error]"); // not `error`: that is the part's method (chat.js)
    this.typingSentAt = 0; // when I last told the visitor I am typing; 0: I am not
    this.focusWhenMine = false; // accepted from here: the agent's next move is to type

    this.reply.id = `hd-reply-${view.id}`;
    this.reply.maxLength = view.ctx.maxChars;
    this.hint.id = `hd-hint-${view.id}`;
    this.reply.setAttribute("aria-describedby", this.hint.id);
    q("[data-role=reply-label]").htmlFor = this.reply.id;
    this.bind();
    this.formatting = new Formatting(this);
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendReply();
    });
    sendOnEnter(this.reply, () => this.sendReply());
    this.reply.addEventListener("input", () => {
      this.problem.textContent = "";
      this.noteTyping();
    });
  }

  update(chat) {
    const { view } = this;
    const status = chat ? chat.status : "";
    const canReply = view.mine;
    this.reply.disabled = !canReply;
    this.send.disabled = !canReply;
    this.formatting.setEnabled(canReply);
    if (canReply && this.focusWhenMine) {
      this.focusWhenMine = false;
      if (view.ctx.isActive(view.id)) this.reply.focus();
    }
    if (!chat) this.hint.textContent = "Loading…";
    else if (canReply) this.hint.textContent = READY_HINT;
    else if (status === "ended") this.hint.textContent = "This chat has ended.";
    else if (status === "active") this.hint.replaceChildren(isolated(chat.agent_name || "Another agent"), " is answering this chat.");
    else this.hint.textContent = "Accept this chat to reply";
  }

  /** Focus the reply box when I may write; returns whether it did. */
  focus() {
    if (this.reply.disabled) return false;
    this.reply.focus();
    return true;
  }

  sendReply() {
    const { view } = this;
    const text = this.reply.value;
    const problem = textProblem(text, view.ctx.maxChars);
    if (problem) {
      this.problem.textContent = problem;
      return;
    }
    if (!view.mine) return;
    const sent = view.ctx.sendMessage(frames.messageSend(view.id, text));
    this.stopTyping();
    view.timeline.pending.add(sent);
    this.reply.value = "";
    this.problem.textContent = "";
    this.formatting.textChanged();
  }

  /** The preview's answers and refusals (formatting.js). */
  frame(frame) {
    this.formatting.frame(frame);
  }

  error(frame) {
    return this.formatting.error(frame);
  }

  destroy() {
    this.formatting.destroy();
  }

  noteTyping() {
    if (!this.view.mine) return;
    if (!this.reply.value.trim()) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (this.typingSentAt && now - this.typingSentAt < TYPING_REPEAT_MS) return;
    if (this.view.ctx.send(frames.agentTyping(this.view.id, true))) this.typingSentAt = now;
  }

  stopTyping() {
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    this.view.ctx.send(frames.agentTyping(this.view.id, false));
  }
}
