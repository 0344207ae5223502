// The Ticket tab of the pane: the chat's ticket (ref linked to its page, status, department, who it
// is assigned to, language, requester, created), the visitor's rating once they gave one, and after
// the chat the transcript email: sent, pending or failed (with why), or why none was sent (the
// server's `transcript_skipped`), and a button to send it (again: `transcript.send`). The department is changed here
// (`chat.department`); the assignee by assignee.js. Every string from people is set as text.

import * as frames from "../core/frames.js";
import { setIsolatedText } from "../core/messages.js";
import { dayOrTimeFormat, dayTimeFormat, timeEl } from "../core/time.js";
import { Assignee } from "./assignee.js";

const OFFLINE = "You're offline. Try again when the connection is back.";
const STATUS = { open: "Open", resolved: "Resolved" };
const EMAIL_STATE = { sent: "Sent", pending: "Pending", failed: "Failed" };
const EMAIL_REASON = { auto: "when the chat ended", agent: "by an agent", visitor: "at the visitor's request" };
const NO_DEPARTMENT = "";
const NO_ADDRESS = "Not sent: the visitor gave no email address.";

export class TicketTab {
  constructor(view) {
    this.view = view;
    const root = view.el.querySelector("[data-side-panel=ticket]");
    const q = (sel) => root.querySelector(sel);
    this.root = root;
    this.loading = q("[data-role=ticket-loading]");
    this.body = q("[data-role=ticket-body]");
    this.f = {};
    for (const el of root.querySelectorAll("[data-field]")) this.f[el.dataset.field] = el;
    this.department = q("[data-role=department]");
    this.department.id = `hd-department-${view.id}`;
    q("[data-role=department-label]").htmlFor = this.department.id;
    this.errorEl = q("[data-role=ticket-error]");
    this.rating = q("[data-role=rating]");
    this.ratingValue = q("[data-role=rating-value]");
    this.ratingComment = q("[data-role=rating-comment]");
    this.transcript = q("[data-role=transcript]");
    this.emails = q("[data-role=emails]");
    this.noEmail = q("[data-role=no-email]");
    this.resend = q("[data-role=resend]");
    this.assignee = new Assignee(view, root, (text) => this.showError(text));
    this.data = null;
    this.chat = null;
    this.resending = false; // transcript.send is on its way

    this.department.addEventListener("change", () => this.changeDepartment());
    this.resend.addEventListener("click", () => this.sendAgain());
  }

  update(chat) {
    this.chat = chat;
    this.assignee.update(chat);
    if (this.data) this.renderTranscript();
  }

  showDetails(details) {
    this.data = details;
    this.loading.hidden = true;
    this.body.hidden = false;
    const t = details.ticket || {};
    const f = this.f;
    f["ticket-ref"].textContent = t.ref || "—";
    if (t.ref) f["ticket-ref"].href = this.view.ctx.ticketUrl(t.ref);
    setIsolatedText(f["ticket-subject"], t.subject || "");
    f["ticket-status"].textContent = STATUS[t.status] || t.status || "—";
    f["ticket-status"].dataset.status = t.status === "resolved" ? "ended" : "active";
    f["ticket-language"].textContent = languageName(t.language);
    setIsolatedText(f["ticket-requester"], t.requester_name || "—");
    setIsolatedText(f["ticket-requester-email"], t.requester_email || "no email given", t.requester_email ? "ltr" : "auto");
    f["ticket-created"].replaceChildren(timeEl(t.created_at, dayTimeFormat));
    this.renderDepartment(details);
    this.assignee.showDetails(details);
    this.renderRating(t.rating);
    this.resending = false;
    this.resend.removeAttribute("aria-disabled");
    this.renderTranscript();
  }

  renderDepartment(details) {
    const current = details.ticket?.department;
    const choices = [...(details.choices?.departments || [])];
    // The ticket's department is always a choice, even one the list no longer has.
    if (current && !choices.some((d) => d.id === current.id)) choices.push(current);
    const options = [new Option("No department", NO_DEPARTMENT)];
    for (const dep of choices) options.push(new Option(dep.name, String(dep.id)));
    this.department.replaceChildren(...options);
    this.department.value = current ? String(current.id) : NO_DEPARTMENT;
  }

  changeDepartment() {
    const value = this.department.value;
    const department = value === NO_DEPARTMENT ? null : Number(value);
    this.showError("");
    if (!this.view.ctx.send(frames.chatDepartment(this.view.id, department))) {
      this.showError(OFFLINE);
      this.renderDepartment(this.data);
    }
    // The list shows the choice until the server's `details` answer says how it stands.
  }

  renderRating(rating) {
    this.rating.hidden = !rating;
    if (!rating) return;
    const good = rating.value === "good";
    this.ratingValue.dataset.value = good ? "good" : "bad";
    this.ratingValue.replaceChildren(thumb(good), good ? "Good" : "Bad");
    if (rating.at) {
      const when = timeEl(rating.at, dayOrTimeFormat(rating.at));
      when.className = "hd-rating__at";
      this.ratingValue.append(when);
    }
    this.ratingComment.hidden = !rating.comment;
    setIsolatedText(this.ratingComment, rating.comment || "");
  }

  /** After the chat: each email (newest first) or why none went, and the button to send it again. */
  renderTranscript() {
    const details = this.data;
    const ended = (this.chat?.status || details?.session?.status) === "ended";
    this.transcript.hidden = !ended;
    if (!ended) return;
    const ticket = details.ticket || {};
    const emails = ticket.transcript_emails || [];
    const address = details.visitor?.email || ticket.requester_email || "";
    this.emails.replaceChildren(...emails.map(emailItem));
    // Why the automatic email did not go, in the server's words (no address, the department's choice).
    const skipped = ticket.transcript_skipped || (!emails.length && !address ? NO_ADDRESS : "");
    this.noEmail.hidden = !skipped;
    setIsolatedText(this.noEmail, skipped);
    this.resend.hidden = !address;
    this.resend.textContent = emails.length ? "Send transcript again" : "Send transcript";
  }

  sendAgain() {
    if (this.resending) return; // one email per click, until the answer lists it
    this.showError("");
    if (!this.view.ctx.send(frames.transcriptSend(this.view.id))) {
      this.showError(OFFLINE);
      return;
    }
    this.resending = true;
    this.resend.setAttribute("aria-disabled", "true");
  }

  showError(text) {
    this.errorEl.textContent = text;
  }

  error(frame) {
    if (!["chat.department", "chat.assign", "transcript.send"].includes(frame.frame)) return false;
    this.showError(frame.message || "That could not be saved.");
    if (this.data) this.showDetails(this.data); // back to what the server has
    this.view.pane.show("ticket");
    return true;
  }
}

/** "Sent to sam@… 20:03 · when the chat ended", or "Failed: <why>". */
function emailItem(email) {
  const li = document.createElement("li");
  li.className = "hd-email";
  li.dataset.testid = "transcript-email";
  li.dataset.state = email.state;
  const state = document.createElement("span");
  state.className = "hd-email__state";
  state.dataset.testid = "transcript-email-state";
  state.textContent = EMAIL_STATE[email.state] || email.state;
  const to = document.createElement("span");
  to.className = "hd-email__to";
  to.append("to ");
  const address = document.createElement("bdi");
  setIsolatedText(address, email.to || "", "ltr");
  to.append(address);
  const meta = document.createElement("span");
  meta.className = "hd-email__meta";
  const at = email.sent_at || email.requested_at;
  meta.append(timeEl(at, dayOrTimeFormat(at)), ` · ${EMAIL_REASON[email.reason] || email.reason || ""}`);
  li.append(state, " ", to, meta);
  if (email.state === "failed" && email.error) {
    const why = document.createElement("span");
    why.className = "hd-email__error";
    why.dataset.testid = "transcript-email-error";
    setIsolatedText(why, email.error);
    li.append(why);
  }
  return li;
}

/** A thumb up (good) or down (bad), drawn: decoration beside the word. */
function thumb(up) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `hd-rating__icon${up ? "" : " hd-rating__icon--down"}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z");
  svg.append(path);
  return svg;
}

/** "English (en)" from a language code, in the agent's language; the code alone if unknown. */
function languageName(code) {
  if (!code) return "—";
  try {
    const name = new Intl.DisplayNames(undefined, { type: "language" }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}
