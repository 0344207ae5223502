// The chat on screen in the widget: its messages (timeline.js), the reply box (composer.js) with
// the visitor's draft told to agents (drafts.js), the agent's "is typing…" (typing.js), receipts
// (receipts.js), the ended state with its rating and transcript (afterchat.js), and what the
// visitor had in front of them (seenSeq, unread, kept in storage across page loads).

import * as frames from "../core/frames.js";
import { Timeline } from "./timeline.js";
import { Composer } from "./composer.js";
import { Drafts } from "./drafts.js";
import { AgentTyping } from "./typing.js";
import { Receipts } from "./receipts.js";
import { AfterChat } from "./afterchat.js";

const KEY_CHAT = "hd.visitor.chat"; // {id, seenSeq} of the chat on screen

export class Conversation {
  /**
   * @param {object} app  state (the widget's, shared), socket, cursors, store, host, maxChars,
   *        maxCommentChars (of a rating)
   */
  constructor({ state, socket, cursors, store, host, maxChars, maxCommentChars }) {
    Object.assign(this, { state, socket, cursors, store, host });
    const $ = (id) => document.getElementById(id);
    const send = (frame) => socket.send(frame);
    this.newChat = $("hd-new-chat");
    this.afterChat = new AfterChat({ send, store, maxChars: maxCommentChars });
    this.timeline = new Timeline($("hd-log"));
    this.agentTyping = new AgentTyping($("hd-agent-typing"));
    this.drafts = new Drafts({
      send,
      chatId: () => (state.view === "chat" && this.isOpen() ? state.chat.id : null),
      welcomed: () => state.welcomed,
      preview: () => state.typingPreview,
      maxChars,
    });
    this.composer = new Composer({ maxChars, onInput: (text) => this.drafts.changed(text), onSend: (text) => this.send(text) });
    this.receipts = new Receipts({
      root: this.timeline.log,
      send,
      chatId: () => (state.chat && state.welcomed ? state.chat.id : null),
      canRead: () => state.hostOpen && document.visibilityState === "visible" && state.view === "chat",
    });
  }

  /** The chat on screen can still change (waiting or active). */
  isOpen() {
    const status = this.state.chat ? this.state.chat.status : "";
    return status === "queued" || status === "active";
  }

  /** A chat becomes the one on screen: from seq 0, read up to where the visitor was. */
  adopt(chat) {
    const { state } = this;
    this.clear();
    state.chat = chat;
    const saved = this.store.get(KEY_CHAT);
    state.seenSeq = saved && saved.id === chat.id ? Number(saved.seenSeq) || 0 : 0;
    state.unread = 0;
    this.host.unread(0);
    this.showPendingFromOutbox();
    this.cursors.track(chat.id);
    this.cursors.resync(chat.id); // offline: onOpen resumes it
  }

  /** The chat on screen changed (status, agent). */
  update(chat) {
    this.state.chat = chat;
    this.save();
    const ended = chat.status === "ended";
    this.showEnded(ended);
    if (ended) {
      this.drafts.reset();
      this.agentTyping.hide();
    }
  }

  /** Our chat.start is on its way (from the outbox): its message, "Sending…". */
  showStarting() {
    this.state.chat = null;
    this.clear();
    this.showPendingFromOutbox();
    this.showEnded(false);
  }

  /** A new chat with its first message, into the outbox. */
  start(fields) {
    this.state.chat = null;
    this.clear();
    const sent = this.socket.sendMessage(frames.chatStart(fields));
    this.state.starting = sent.client_id;
    this.timeline.pending.add(sent);
    this.showEnded(false);
  }

  /** The composer's send: true when it went (into the outbox), else why not. */
  send(text) {
    const { state } = this;
    if (state.starting && !state.chat) return "One moment: your chat is starting.";
    if (!state.chat || state.chat.status === "ended") return false;
    const sent = this.socket.sendMessage(frames.messageSend(state.chat.id, text));
    this.drafts.done();
    this.timeline.pending.add(sent);
    return true;
  }

  showEnded(ended) {
    // The chat ended under the visitor's hands (the focus in the reply box, or lost with the
    // confirmation they answered): the focus goes to what is there now.
    const active = document.activeElement;
    const lost = !active || active === document.body;
    const hadFocus = ended && !this.composer.hidden && document.hasFocus() && (lost || this.composer.form.contains(active));
    if (ended && this.state.chat) this.afterChat.show(this.state.chat.id, this.state.chat.rating);
    else this.afterChat.hide();
    this.composer.hidden = ended;
    if (hadFocus) this.afterChat.focus();
  }

  /** A message the cursor had not: placed by seq, counted unread while the panel is closed. */
  add(message) {
    const { state } = this;
    const li = this.timeline.add(message);
    if (!li) return;
    if (message.client_id && message.client_id === state.starting) state.starting = null;
    if (state.open) {
      state.seenSeq = this.top();
    } else if (message.author === "visitor") {
      // The visitor wrote after these (e.g. in another tab): they count as read.
      state.seenSeq = Math.max(state.seenSeq, message.seq);
      if (state.unread) {
        state.unread = 0;
        this.host.unread(0);
      }
    } else if (message.author === "agent" && message.seq > state.seenSeq) {
      state.unread += 1;
      this.host.unread(state.unread);
    }
    this.save();
    if (message.author === "agent") {
      this.agentTyping.hide();
      this.receipts.shown(li, message.seq);
    }
  }

  /** The panel is on screen: everything so far is seen. */
  seen() {
    this.receipts.update();
    this.state.seenSeq = this.top();
    this.state.unread = 0;
    this.save();
    this.host.unread(0);
  }

  save() {
    const { state } = this;
    if (state.chat) this.store.set(KEY_CHAT, { id: state.chat.id, seenSeq: state.seenSeq });
  }

  /** Forget the chat on screen (a new visitor, a new chat). */
  forget() {
    this.store.remove(KEY_CHAT);
  }

  /** The highest seq of the chat on screen we have (messages, and the seqs not shown to us). */
  top() {
    const cursor = this.state.chat ? this.cursors.get(this.state.chat.id) : null;
    return cursor ? cursor.top : 0;
  }

  /** The visitor's messages still in the outbox (from before a reload), as "Sending…". */
  showPendingFromOutbox() {
    const { state } = this;
    for (const frame of this.socket.pending()) {
      const mine =
        frame.type === "chat.start"
          ? !state.chat || frame.client_id === state.starting
          : Boolean(state.chat) && frame.chat === state.chat.id;
      if (mine && (frame.type === "chat.start" || frame.type === "message.send")) this.timeline.pending.add(frame);
      if (frame.type === "chat.start" && !state.chat) state.starting = frame.client_id;
    }
  }

  clear() {
    this.timeline.clear();
    this.cursors.forgetAll(); // the next chat on screen starts from seq 0
    this.receipts.reset();
    this.drafts.reset();
    this.agentTyping.hide();
  }

  /** Where the visitor types next in the chat view, if anywhere. */
  focus() {
    if (!this.composer.hidden) this.composer.focus();
    else if (!this.afterChat.hidden) this.afterChat.focus();
  }
}
