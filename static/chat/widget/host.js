// The host page around the iframe: messages to and from the loader (widget.js lists them), always
// with the host's origin as target, and only read from the parent window with that origin. And the
// pages the visitor views there (hd:page), reported as page views once the socket has its welcome;
// the same page twice in a row is reported once, and a few wait while offline.

import * as frames from "../core/frames.js";

const MAX_URL_CHARS = 2000; // what the server keeps of a page view
const MAX_TITLE_CHARS = 200;
const PAGE_QUEUE_MAX = 20; // page views kept while offline; the oldest go first

export class Host {
  /**
   * @param {object} options
   * @param {string} options.origin  the host page's origin ("" when not embedded)
   * @param {boolean} options.embedded
   * @param {function(boolean, boolean): void} options.onOpen  (open, focus): hd:open or hd:closed
   * @param {function(object): void} options.onPage  hd:page: {url, title} of the host page
   */
  constructor({ origin, embedded, onOpen, onPage }) {
    this.origin = origin;
    this.embedded = embedded;
    window.addEventListener("message", (event) => {
      if (!embedded || event.origin !== origin || event.source !== window.parent) return;
      const data = event.data || {};
      if (data.type === "hd:open") onOpen(true, data.focus === true);
      else if (data.type === "hd:closed") onOpen(false, false);
      else if (data.type === "hd:page") onPage(data);
    });
  }

  post(message) {
    if (this.embedded) window.parent.postMessage(message, this.origin);
  }

  ready(open) {
    this.post({ type: "hd:ready", open });
  }

  close() {
    this.post({ type: "hd:close" });
  }

  unread(count) {
    this.post({ type: "hd:unread", count });
  }
}

export class PageViews {
  /**
   * @param {object} options
   * @param {string} options.origin  only pages of this origin are reported
   * @param {function(object): boolean} options.send  a frame, if online
   * @param {function(): boolean} options.ready  the socket had its welcome
   */
  constructor({ origin, send, ready }) {
    this.options = { origin, send, ready };
    this.queue = [];
    this.last = "";
  }

  /** hd:page from the loader. */
  seen(data) {
    if (typeof data.url !== "string" || typeof data.title !== "string") return;
    let url;
    try {
      url = new URL(data.url);
    } catch {
      return;
    }
    // Only pages of the site that embeds us, and only addresses the server records.
    if (url.origin !== this.options.origin || (url.protocol !== "http:" && url.protocol !== "https:")) return;
    const view = {
      url: url.href.slice(0, MAX_URL_CHARS),
      title: data.title.replace(/\s+/g, " ").trim().slice(0, MAX_TITLE_CHARS),
    };
    const key = `${view.url}\n${view.title}`;
    if (key === this.last) return;
    this.last = key;
    this.queue.push(view);
    if (this.queue.length > PAGE_QUEUE_MAX) this.queue.shift();
    this.flush();
  }

  flush() {
    while (this.options.ready() && this.queue.length) {
      const { url, title } = this.queue[0];
      if (!this.options.send(frames.pageView(url, title))) return;
      this.queue.shift();
    }
  }
}
