// Sending files from one chat view of the console: a paperclip beside Send (a hidden file input),
// files dropped on the chat view (a hint shows while dragging), and a screenshot or file pasted into
// the reply box. Each file is one upload, in order (core/uploads.js), with a row above the reply box
// (name, progress bar, Cancel) until the server has stored it; its message then goes into the view by
// the path a received `message` takes (the chat's cursor first, so the broadcast of it that also
// arrives is dropped). Refusals are shown in the reply box's error line (role=alert), in the
// server's words. Only while the chat is mine, as the reply box (composer.js): `view.mine`.
//
// Agents are known by their session; the upload carries the CSRF token of the `csrftoken` cookie.
// A part of the chat view (chat.js): update(chat), destroy().

import { Uploader, readLimits, uploadName } from "../core/uploads.js";
import { showUpload } from "../core/attachment.js";

const PAPERCLIP = "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z";

/** The value of a cookie of this page, "" when it has none. */
export function cookie(name, cookies = document.cookie) {
  for (const part of cookies.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return "";
}

let guarded = false;

/** A file dropped anywhere else on the page must not open in the console's place. */
function guardPage(hasFiles) {
  if (guarded) return;
  guarded = true;
  for (const type of ["dragover", "drop"]) {
    document.addEventListener(type, (event) => {
      if (!hasFiles(event) || event.defaultPrevented) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
    });
  }
}

export class Uploads {
  constructor(view) {
    this.view = view;
    this.limits = readLimits(document.body.dataset);
    const q = (sel) => view.el.querySelector(sel);
    this.form = q("form.hd-composer");
    this.reply = q("[data-role=reply]");
    this.error = q("[data-role=error]");
    this.zone = q(".hd-panel__conv") || view.el;
    this.rows = new Map(); // Upload -> <li>
    this.enabled = false;
    this.build(q("[data-role=send]"));

    this.uploader = new Uploader({
      url: (chat) => `/console/chats/${encodeURIComponent(chat)}/uploads/`,
      headers: () => ({ "X-CSRFToken": cookie("csrftoken") }),
      maxBytes: this.limits.maxBytes,
      onChange: (upload) => this.render(upload),
      onStored: (upload, answer) => this.stored(answer),
      onFailed: (upload, message) => this.showError(message),
    });
  }

  /** The paperclip (before Send), its file input, the rows' list and the drop hint. */
  build(send) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "hd-attach";
    button.dataset.testid = "attach-button";
    button.setAttribute("aria-label", "Attach a file");
    if (this.limits.kinds) button.title = `Attach a file: ${this.limits.kinds}`;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", PAPERCLIP);
    svg.append(path);
    button.append(svg);
    button.hidden = !this.limits.enabled;

    const input = document.createElement("input");
    input.type = "file";
    input.multiple = true;
    input.accept = this.limits.accept;
    input.hidden = true;
    input.tabIndex = -1;
    input.setAttribute("aria-hidden", "true");
    input.dataset.testid = "file-input";

    const list = document.createElement("ul");
    list.className = "hd-uploads";
    list.dataset.testid = "upload-list";
    list.setAttribute("aria-label", "Files being sent");
    list.hidden = true;

    const hint = document.createElement("div");
    hint.className = "hd-drop";
    hint.dataset.testid = "drop-hint";
    hint.textContent = "Drop files here to send them";
    hint.hidden = true;

    if (send) send.before(button, input);
    else this.form.append(button, input);
    const row = this.form.querySelector(".hd-composer__row");
    if (row) row.before(list);
    else this.form.prepend(list);
    this.zone.append(hint);
    Object.assign(this, { button, input, list, hint });

    button.addEventListener("click", () => this.enabled && input.click());
    input.addEventListener("change", () => {
      this.send([...input.files]);
      input.value = "";
    });
    this.reply.addEventListener("paste", (event) => this.paste(event));
    this.bindDrop();
  }

  /** Like the reply box: open only while the chat is mine. */
  update() {
    this.enabled = this.limits.enabled && this.view.mine;
    this.button.disabled = !this.enabled;
    if (!this.enabled) this.hint.hidden = true;
  }

  send(files, { pasted = false } = {}) {
    if (!this.enabled || !files.length) return;
    for (const file of files) this.uploader.add(file, this.view.id, { name: uploadName(file, { pasted }) });
  }

  /** Files in the clipboard are sent; text is pasted as text (an office app puts both). */
  paste(event) {
    const data = event.clipboardData;
    const files = data ? [...data.files] : [];
    if (!files.length || !this.enabled) return;
    if (data.types.includes("text/plain") && data.getData("text/plain").trim()) return;
    event.preventDefault();
    this.send(files, { pasted: true });
  }

  bindDrop() {
    const { zone, hint } = this;
    const hasFiles = (event) => Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");
    let depth = 0;
    zone.addEventListener("dragenter", (event) => {
      if (!hasFiles(event) || !this.enabled) return;
      event.preventDefault();
      depth += 1;
      hint.hidden = false;
    });
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event) || !this.enabled) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      hint.hidden = false;
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) hint.hidden = true;
    });
    zone.addEventListener("drop", (event) => {
      depth = 0;
      hint.hidden = true;
      if (!hasFiles(event)) return;
      event.preventDefault();
      this.send([...event.dataTransfer.files]);
    });
    guardPage(hasFiles);
  }

  /** Stored: into the view as a received message, through the chat's cursor. */
  stored(answer) {
    const { view } = this;
    const message = answer.message;
    if (answer.chat !== view.id || !message) return;
    if (view.ctx.cursors.receive(view.id, message.seq)) view.frame({ type: "message", chat: view.id, message });
  }

  showError(text) {
    this.error.textContent = text;
  }

  render(upload) {
    showUpload(this.list, this.rows, upload, () => this.uploader.cancel(upload));
  }

  destroy() {
    this.uploader.cancelAll();
  }
}
