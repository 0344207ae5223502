// Files sent to a chat over HTTP (docs/protocol.md, "Files"), shared by the widget and the console.
// No DOM: the pages draw the rows (widget/uploads.js, console/uploads.js); this is the queue, tested
// with `node --test`.
//
// One upload at a time, in the order the files were given, so their messages take seqs in that order.
// Each is a POST of the file's bytes by XMLHttpRequest (fetch reports no upload progress) with its own
// client_id: a lost connection, a 429 or a 5xx sends it again with the SAME client_id after a wait
// (the server's retry_after when it gives one), so it is stored once; every other answer is final and
// its `error.message` is shown as the server wrote it. A file past the page's limit, or empty, is
// refused here, before anything is sent.

import { randomId, systemClock, RETRY_MIN_MS, RETRY_MAX_MS, RETRYABLE } from "./cursor.js";

export const MAX_TRIES = 5; // sends of one file, the first included, before a retryable failure is final

// A bitmap pasted from the clipboard comes without a name, or with the browser's generic one.
const GENERIC_PASTE_NAMES = new Set(["", "image.png"]);
const IMAGE_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

/** The limits a page hands its scripts in body data attributes (the admin's, never copied here). */
export function readLimits(dataset) {
  const accept = String(dataset.uploadAccept || "");
  return {
    maxBytes: Number(dataset.uploadMaxBytes) || 0, // 0: not known, the server alone checks
    accept, // ".png,.jpg,…" for a file input's accept attribute; "" when no files may be sent
    kinds: String(dataset.uploadKinds || ""), // "PNG, JPEG, … or ZIP archive"
    enabled: accept !== "",
  };
}

/** "512 bytes", "48 KB", "1.2 MB": sizes as the server counts them (1 MB = 1,048,576 bytes). */
export function humanSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return n === 1 ? "1 byte" : `${n} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = value >= 10 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, "");
  return `${shown} ${units[unit]}`;
}

/** Why this file cannot be sent, said before sending it; "" when it may go. */
export function fileProblem(file, maxBytes) {
  const name = file.name || "This file";
  if (!file.size) return `${name} is empty: there is nothing in it to send.`;
  if (maxBytes > 0 && file.size > maxBytes) {
    return `${name} is ${humanSize(file.size)}: larger than ${humanSize(maxBytes)}, the most that can be sent here.`;
  }
  return "";
}

/**
 * The name a file is sent under: its own, or for a bitmap pasted from the clipboard (no name, or
 * the browser's "image.png") one made of the time, "pasted-image-2026-12-02-1530.png".
 */
export function uploadName(file, { pasted = false, now = new Date() } = {}) {
  const name = typeof file.name === "string" ? file.name : "";
  if (!(pasted && GENERIC_PASTE_NAMES.has(name)) && name) return name;
  const pad = (n) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}`;
  const extension = IMAGE_EXTENSIONS[file.type] || (name.includes(".") ? name.split(".").pop() : "");
  const base = String(file.type || "").startsWith("image/") ? "pasted-image" : "pasted-file";
  return extension ? `${base}-${stamp}.${extension}` : `${base}-${stamp}`;
}

/** One file on its way. `state`: waiting, sending, retrying, done, failed, cancelled. */
export class Upload {
  constructor({ file, name, chat, clientId }) {
    this.file = file;
    this.name = name;
    this.size = file.size;
    this.chat = chat;
    this.clientId = clientId;
    this.state = "waiting";
    this.progress = 0; // 0 to 1, of the bytes sent
    this.tries = 0;
    this.retryAt = 0; // while retrying: when the next try goes (clock time)
    this.error = ""; // when failed: why, for people
    this.xhr = null;
    this.timer = null;
  }

  get finished() {
    return this.state === "done" || this.state === "failed" || this.state === "cancelled";
  }
}

/**
 * The uploads of one page, one at a time, in order.
 *
 * @param {object} options
 * @param {function(string): string} options.url  the upload URL of a chat ID
 * @param {function(): object} options.headers  the page's own headers (token, or CSRF) for each send
 * @param {number} options.maxBytes  the admin's largest file, from the page (0: not known)
 * @param {function(Upload): void} options.onChange  an upload's state or progress changed
 * @param {function(Upload, object): void} options.onStored  stored: the answer {chat, message, duplicate}
 * @param {function(Upload, string): void} options.onFailed  refused for good, with why (also a pre-check)
 * @param {function(): XMLHttpRequest} options.newXhr  tests pass a fake one
 */
export class Uploader {
  constructor({ url, headers = () => ({}), maxBytes = 0, onChange = () => {}, onStored = () => {},
    onFailed = () => {}, newXhr = () => new XMLHttpRequest(), newId = randomId, clock = systemClock,
    maxTries = MAX_TRIES }) {
    Object.assign(this, { url, headers, maxBytes, onChange, onStored, onFailed, newXhr, newId, clock, maxTries });
    this.queue = []; // not finished, oldest first; the first one is the one sending or retrying
  }

  /**
   * Queue `file` for `chat`. Returns its Upload; a file that fails the pre-check is "failed" at once
   * (onFailed told), and nothing is sent.
   */
  add(file, chat, { name = file.name || uploadName(file) } = {}) {
    const upload = new Upload({ file, name, chat, clientId: this.newId() });
    const problem = fileProblem({ name, size: file.size }, this.maxBytes);
    if (problem) {
      this.finish(upload, "failed", problem);
      return upload;
    }
    this.queue.push(upload);
    this.onChange(upload);
    this.pump();
    return upload;
  }

  /** Stop an upload: the request is aborted (or never made); nothing more is told of it but this. */
  cancel(upload) {
    if (upload.finished) return;
    const index = this.queue.indexOf(upload);
    if (index >= 0) this.queue.splice(index, 1);
    this.stop(upload);
    this.finish(upload, "cancelled");
    this.pump();
  }

  /** Cancel every upload (the page or the chat goes away). */
  cancelAll() {
    for (const upload of this.queue.slice().reverse()) this.cancel(upload);
  }

  /** The uploads not finished, oldest first. */
  pending() {
    return this.queue.slice();
  }

  // --- internals ---

  pump() {
    const upload = this.queue[0];
    if (!upload || upload.state === "sending" || upload.state === "retrying") return;
    this.send(upload);
  }

  send(upload) {
    upload.tries += 1;
    upload.state = "sending";
    upload.progress = 0;
    upload.retryAt = 0;
    const xhr = this.newXhr();
    upload.xhr = xhr;
    xhr.open("POST", this.url(upload.chat));
    for (const [header, value] of Object.entries(this.headers() || {})) {
      if (value !== undefined && value !== null && value !== "") xhr.setRequestHeader(header, String(value));
    }
    xhr.setRequestHeader("X-Client-Id", upload.clientId);
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(upload.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream"); // ignored: the server reads the bytes
    const current = () => upload.xhr === xhr && upload.state === "sending";
    if (xhr.upload) {
      xhr.upload.onprogress = (event) => {
        if (!current() || !event.lengthComputable || !event.total) return;
        upload.progress = Math.min(1, event.loaded / event.total);
        this.onChange(upload);
      };
    }
    xhr.onload = () => current() && this.answered(upload, xhr);
    xhr.onerror = () => current() && this.failedTry(upload, { reason: "network" });
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {}; // only cancel() aborts, and it has settled the upload already
    this.onChange(upload);
    xhr.send(upload.file);
  }

  answered(upload, xhr) {
    upload.xhr = null;
    const status = xhr.status;
    const body = parseJson(xhr.responseText);
    if ((status === 200 || status === 201) && body && body.message) {
      upload.progress = 1;
      this.queue.splice(this.queue.indexOf(upload), 1);
      this.finish(upload, "done");
      this.onStored(upload, body);
      this.pump();
      return;
    }
    const error = body && body.error && typeof body.error === "object" ? body.error : null;
    const retryable = status === 0 || status === 429 || status >= 500 || (error && RETRYABLE.has(error.code));
    if (retryable) {
      const header = Number(typeof xhr.getResponseHeader === "function" ? xhr.getResponseHeader("Retry-After") : NaN);
      const retryAfter = error && Number(error.retry_after) > 0 ? Number(error.retry_after) : header;
      this.failedTry(upload, { reason: "status", status, retryAfter, message: error && error.message });
      return;
    }
    const message = error && typeof error.message === "string" && error.message
      ? error.message
      : `${upload.name} could not be sent (the server answered ${status || "nothing"}). Reload the page and try again.`;
    this.queue.splice(this.queue.indexOf(upload), 1);
    this.finish(upload, "failed", message);
    this.pump();
  }

  /** A try that may be made again: after a wait, with the same client_id; final after maxTries. */
  failedTry(upload, { reason, status = 0, retryAfter = NaN, message = "" }) {
    upload.xhr = null;
    if (upload.tries >= this.maxTries) {
      const why = message || (reason === "network"
        ? `${upload.name} could not be sent: the connection to the helpdesk failed. Try again.`
        : `${upload.name} could not be sent (the server answered ${status}). Try again in a moment.`);
      this.queue.splice(this.queue.indexOf(upload), 1);
      this.finish(upload, "failed", why);
      this.pump();
      return;
    }
    const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (upload.tries - 1));
    const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff;
    upload.state = "retrying";
    upload.progress = 0;
    upload.retryAt = this.clock.now() + delay;
    upload.timer = this.clock.setTimeout(() => {
      upload.timer = null;
      if (upload.state === "retrying") this.send(upload);
    }, delay);
    this.onChange(upload);
  }

  stop(upload) {
    if (upload.timer !== null) this.clock.clearTimeout(upload.timer);
    upload.timer = null;
    const xhr = upload.xhr;
    upload.xhr = null;
    if (xhr) xhr.abort();
  }

  finish(upload, state, error = "") {
    upload.state = state;
    upload.error = error;
    upload.file = null; // let the bytes go
    this.onChange(upload);
    if (state === "failed") this.onFailed(upload, error);
  }
}

function parseJson(text) {
  if (typeof text !== "string" || !text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
