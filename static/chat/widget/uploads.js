// Sending files from the widget: the paperclip beside the reply box (a hidden file input), files
// dropped on the conversation (a hint shows while dragging), and a screenshot or file pasted into
// the reply box. Each file is one upload, in order (core/uploads.js), shown as a row above the reply
// box with its name, a progress bar and Cancel, until the server has stored it. Its message then
// goes into the conversation by the path a received `message` takes (`onMessage`), so the cursor
// drops the broadcast of it that also arrives. Refusals are shown in the reply box's error line
// (role=alert), in the server's words.
//
// Only while the chat is open (waiting or active): `chatId()` says which, null when none.

import { Uploader, readLimits, uploadName } from "../core/uploads.js";
import { showUpload } from "../core/attachment.js";

export class WidgetUploads {
  /**
   * @param {object} options
   * @param {function(): string|null} options.chatId  the chat files go to now, or null
   * @param {function(): string|null} options.token  the visitor's token
   * @param {function(string, object): void} options.onMessage  (chat ID, stored message)
   * @param {function(string): void} options.showError  a refusal, for people
   */
  constructor({ chatId, token, onMessage, showError }) {
    const $ = (id) => document.getElementById(id);
    this.chatId = chatId;
    this.showError = showError;
    this.limits = readLimits(document.body.dataset);
    this.button = $("hd-attach");
    this.input = $("hd-file");
    this.list = $("hd-uploads");
    this.reply = $("hd-reply");
    this.zone = $("hd-view-chat");
    this.rows = new Map(); // Upload -> <li>

    this.uploader = new Uploader({
      url: (chat) => `/chat/${encodeURIComponent(chat)}/uploads/`,
      headers: () => ({ "X-Visitor-Token": token() }),
      maxBytes: this.limits.maxBytes,
      onChange: (upload) => this.render(upload),
      onStored: (upload, answer) => onMessage(answer.chat, answer.message),
      onFailed: (upload, message) => showError(message),
    });

    this.button.hidden = !this.limits.enabled;
    this.input.accept = this.limits.accept;
    if (this.limits.kinds) this.button.title = `Attach a file: ${this.limits.kinds}`;
    this.button.addEventListener("click", () => this.canSend() && this.input.click());
    this.input.addEventListener("change", () => {
      this.send([...this.input.files]);
      this.input.value = ""; // the same file may be picked again
    });
    this.reply.addEventListener("paste", (event) => this.paste(event));
    this.bindDrop();
  }

  canSend() {
    return this.limits.enabled && Boolean(this.chatId());
  }

  /** Files picked, dropped or pasted: one upload each, in order. */
  send(files, { pasted = false } = {}) {
    const chat = this.chatId();
    if (!files.length || !chat || !this.limits.enabled) return;
    for (const file of files) this.uploader.add(file, chat, { name: uploadName(file, { pasted }) });
  }

  /** Files in the clipboard are sent; text is pasted as text (an office app puts both). */
  paste(event) {
    const data = event.clipboardData;
    const files = data ? [...data.files] : [];
    if (!files.length || !this.canSend()) return;
    if (data.types.includes("text/plain") && data.getData("text/plain").trim()) return;
    event.preventDefault();
    this.send(files, { pasted: true });
  }

  bindDrop() {
    const hint = document.createElement("div");
    hint.className = "hd-drop";
    hint.dataset.testid = "drop-hint";
    hint.hidden = true;
    hint.textContent = "Drop files here to send them";
    this.zone.append(hint);
    this.hint = hint;
    const hasFiles = (event) => Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");
    let depth = 0; // dragenter/dragleave of the children pair up
    this.zone.addEventListener("dragenter", (event) => {
      if (!hasFiles(event) || !this.canSend()) return;
      event.preventDefault();
      depth += 1;
      hint.hidden = false;
    });
    this.zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event) || !this.canSend()) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      hint.hidden = false;
    });
    this.zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) hint.hidden = true;
    });
    this.zone.addEventListener("drop", (event) => {
      depth = 0;
      hint.hidden = true;
      if (!hasFiles(event)) return;
      event.preventDefault();
      if (this.canSend()) this.send([...event.dataTransfer.files]);
    });
    // A file dropped anywhere else in the widget, or while no file may go, must not open in its place.
    for (const type of ["dragover", "drop"]) {
      document.addEventListener(type, (event) => {
        if (!hasFiles(event) || event.defaultPrevented) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "none";
      });
    }
  }

  render(upload) {
    showUpload(this.list, this.rows, upload, () => this.uploader.cancel(upload));
  }

  /** The chat on screen went away (a new chat, a new visitor): its uploads stop. */
  cancelAll() {
    this.uploader.cancelAll();
  }
}
