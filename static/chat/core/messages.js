// The conversation as both chat pages show it: the agent console and the visitor widget.
//
// A message from the server becomes a list item; a message of our own waits as a "Sending…" bubble
// until the server acknowledges it. Only the server-sanitised `html` of a message is inserted as
// HTML; everything else (names, what we typed, times) is text.

import { timeFormat } from "./time.js";
import { attachmentEl } from "./attachment.js";

const NEAR_BOTTOM_PX = 80; // this close to the end, the reader is following the conversation

/**
 * A `message` object from the server as an <li>: a note for system messages, else a bubble.
 * `own`: the author this page writes as ("agent" in the console, "visitor" in the widget); its
 * messages sit on the own side and carry a name only with `nameOwn`. A message with an `attachment`
 * shows the file (core/attachment.js, reached through `files` in the widget) instead of its html.
 */
export function messageEl(message, { own, nameOwn, files = null }) {
  const li = document.createElement("li");
  li.dataset.testid = "message";
  li.dataset.author = message.author;
  li.dataset.seq = String(message.seq);
  if (message.author === "system") {
    li.className = "hd-note";
    li.append(htmlEl("span", "hd-note__text", message.html));
    return li;
  }
  const mine = message.author === own;
  // The side comes from whose page this is, never from the server's string.
  const side = mine ? own : other(own);
  li.className = `hd-msg hd-msg--${side}${mine ? " hd-msg--own" : ""}`;
  if (!mine || nameOwn) li.append(nameEl(message.author_name || (side === "agent" ? "Agent" : "Visitor")));
  li.append(message.attachment ? attachmentBubble(message.attachment, files) : htmlEl("div", "hd-msg__bubble", message.html),
    metaEl(message.created_at));
  return li;
}

function other(author) {
  return author === "agent" ? "visitor" : "agent";
}

function attachmentBubble(attachment, files) {
  const bubble = document.createElement("div");
  bubble.className = `hd-msg__bubble hd-msg__bubble--attachment hd-msg__bubble--${attachment.kind === "image" ? "image" : "file"}`;
  bubble.append(attachmentEl(attachment, files));
  return bubble;
}

/** `html` is the server's sanitised rendering of the message: the one thing set as HTML. */
function htmlEl(tag, className, html) {
  const el = document.createElement(tag);
  el.className = className;
  el.dir = "auto"; // its own direction, isolated: a right-to-left override inside stays inside
  el.innerHTML = html; // sanitised by the server
  return el;
}

/**
 * Text from people (names, titles, drafts) in an element of its own direction, isolated from what
 * is around it (the browser gives [dir] elements unicode-bidi: isolate): an override character in a
 * page title cannot turn the address after it around. `dir` "ltr" for addresses and emails.
 */
export function isolated(text, { tag = "bdi", className = "", dir = "auto" } = {}) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  el.dir = dir;
  el.textContent = text;
  return el;
}

/** Set the text of an element that shows text from people, isolating its direction. */
export function setIsolatedText(el, text, dir = "auto") {
  el.dir = dir;
  el.textContent = text;
}

function nameEl(name) {
  return isolated(name, { tag: "span", className: "hd-msg__name" });
}

/** The line under a bubble: its time (empty without one). The console adds the receipt tick here. */
function metaEl(createdAt) {
  const meta = document.createElement("span");
  meta.className = "hd-msg__meta";
  const time = document.createElement("time");
  if (createdAt) {
    time.dateTime = createdAt;
    time.textContent = timeFormat.format(new Date(createdAt));
  }
  meta.append(time);
  return meta;
}

/** A message frame we sent (message.send, chat.start) before its ack: the typed text, "Sending…". */
function pendingEl(frame, author) {
  const li = document.createElement("li");
  li.className = `hd-msg hd-msg--${author} hd-msg--own hd-msg--pending`;
  li.dataset.testid = "message";
  li.dataset.author = author;
  li.dataset.pending = "true";
  li.dataset.clientId = frame.client_id;
  const bubble = document.createElement("div");
  bubble.className = "hd-msg__bubble hd-msg__bubble--text"; // plain text: keeps the typed line breaks
  bubble.dir = "auto";
  bubble.textContent = frame.text;
  const status = document.createElement("span");
  status.className = "hd-msg__meta hd-msg__status";
  status.dataset.testid = "message-status";
  status.textContent = "Sending…";
  li.append(bubble, status);
  return li;
}

/**
 * Our messages the server has not acknowledged yet, by client_id, shown at the end of `log` as
 * `author`. The acknowledged message (same client_id) replaces its bubble.
 */
export class PendingMessages {
  constructor(log, author) {
    this.log = log;
    this.author = author;
    this.els = new Map(); // client_id -> <li>
  }

  /** Shows a sent frame at the end of the log, once per client_id (the outbox may bring it again). */
  add(frame) {
    if (this.els.has(frame.client_id)) return;
    const li = pendingEl(frame, this.author);
    this.els.set(frame.client_id, li);
    this.log.append(li);
    scrollToEnd(this.log);
  }

  remove(clientId) {
    const li = this.els.get(clientId);
    if (li) li.remove();
    this.els.delete(clientId);
  }

  /** The server refused it: it stays, marked, with the reason read out (role=alert). */
  fail(clientId, reason) {
    const li = this.els.get(clientId);
    if (!li) return;
    li.classList.add("hd-msg--failed");
    li.dataset.failed = "true";
    delete li.dataset.pending; // no longer held last: later messages may come after it
    const status = li.querySelector(".hd-msg__status");
    status.textContent = `Not sent: ${reason}`;
    status.setAttribute("role", "alert");
  }

  /** Forgets them all; the caller empties the log. */
  clear() {
    this.els.clear();
  }
}

export function nearBottom(log) {
  return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
}

export function scrollToEnd(log) {
  log.scrollTop = log.scrollHeight;
}

/** The reply box: Enter sends, Shift+Enter is a new line; never while an IME is composing. */
export function sendOnEnter(textarea, send) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
}

/** Why `text` cannot be sent, in the server's words; "" when it can. */
export function textProblem(text, maxChars) {
  if (!text.trim()) return "A message cannot be empty.";
  if (text.length > maxChars) return `A message can be at most ${maxChars.toLocaleString("en")} characters long.`;
  return "";
}
