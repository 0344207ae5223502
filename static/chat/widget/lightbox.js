// A full image over the widget: a modal <dialog> (the rest of the widget inert behind it) with the
// image's name, the image from a blob: URL (widget/files.js), and a Close button. Escape or Close
// closes it, and the focus goes back to what opened it. Escape here closes only the image, not the
// widget (app.js minimises the widget on an Escape that reaches the document).

import { UNAVAILABLE } from "../core/attachment.js";

export class Lightbox {
  constructor(root = document.body) {
    this.dialog = document.createElement("dialog");
    this.dialog.className = "hd-lightbox";
    this.dialog.dataset.testid = "lightbox";
    this.dialog.setAttribute("aria-labelledby", "hd-lightbox-title");

    const head = document.createElement("div");
    head.className = "hd-lightbox__head";
    this.title = document.createElement("bdi");
    this.title.className = "hd-lightbox__title";
    this.title.id = "hd-lightbox-title";
    this.close = document.createElement("button");
    this.close.type = "button";
    this.close.className = "hd-button hd-button--small hd-lightbox__close";
    this.close.dataset.testid = "lightbox-close";
    this.close.textContent = "Close";
    head.append(this.title, this.close);

    this.stage = document.createElement("div");
    this.stage.className = "hd-lightbox__stage";
    this.dialog.append(head, this.stage);
    root.append(this.dialog);

    this.trigger = null;
    this.opened = 0; // which open() the stage shows: a slow image for an earlier one is not put in
    this.close.addEventListener("click", () => this.hide());
    this.dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.hide();
    });
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.hide();
    });
    // A click beside the image (on the dark around it) closes it too.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog || event.target === this.stage) this.hide();
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Show the image `load()` gives (a Promise of its blob: URL), named `name`. */
  open({ name, load, trigger = null }) {
    const opened = ++this.opened;
    this.trigger = trigger;
    this.title.textContent = name;
    const status = document.createElement("p");
    status.className = "hd-lightbox__status";
    status.textContent = "Loading…";
    this.stage.replaceChildren(status);
    if (!this.dialog.open) this.dialog.showModal();
    this.close.focus();
    const unavailable = () => {
      if (opened !== this.opened) return;
      status.textContent = UNAVAILABLE;
      status.dataset.testid = "attachment-unavailable";
      this.stage.replaceChildren(status);
    };
    load().then((src) => {
      if (opened !== this.opened || !this.dialog.open) return;
      const img = document.createElement("img");
      img.className = "hd-lightbox__image";
      img.alt = name;
      img.dataset.testid = "lightbox-image";
      img.addEventListener("error", unavailable, { once: true });
      img.addEventListener("load", () => status.remove(), { once: true });
      img.src = src;
      this.stage.append(img);
    }, unavailable);
  }

  hide() {
    if (!this.dialog.open) return;
    this.opened += 1;
    this.dialog.close();
    this.stage.replaceChildren();
    const trigger = this.trigger;
    this.trigger = null;
    if (trigger && trigger.isConnected) trigger.focus();
  }
}
