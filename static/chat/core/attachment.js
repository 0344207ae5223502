// The file a message carries (docs/protocol.md, "The `attachment` of a message"), as both chat pages
// draw it: an image as its thumbnail with the name under it, any other file as a card with an icon,
// the name, the size and the type. Names are text, always (textContent, in a <bdi>).
//
// How the bytes are reached differs by page, so it is handed in:
// - the console (no `files`): its session opens /files/ URLs, so the thumbnail is a plain <img src>,
//   the image a link to the full one in a new tab, the card an <a download>;
// - the widget (`files`, widget/files.js): an <img> cannot send the visitor's token, so it fetches
//   each file with the header and shows it from a blob: URL; the image opens in a lightbox inside
//   the widget and the card downloads through a blob.
// What cannot be read says "File unavailable", never a broken image.

import { humanSize } from "./uploads.js";

export const UNAVAILABLE = "File unavailable";

// The type as a person names it, by the type the server decided from the content.
const TYPE_NAMES = [
  ["application/pdf", "PDF document"],
  ["text/csv", "CSV file"],
  ["text/plain", "Text file"],
  ["application/zip", "ZIP archive"],
  ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"],
  ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"],
  ["application/vnd.openxmlformats-officedocument.presentationml.presentation", "PowerPoint presentation"],
  ["application/vnd.oasis.opendocument.text", "OpenDocument text"],
  ["application/vnd.oasis.opendocument.spreadsheet", "OpenDocument spreadsheet"],
  ["image/png", "PNG image"],
  ["image/jpeg", "JPEG image"],
  ["image/gif", "GIF image"],
  ["image/webp", "WebP image"],
];

/** "PDF document", or the name's extension ("LOG file") for a type not listed. */
export function typeName(attachment) {
  const type = String(attachment.type || "").split(";")[0].trim().toLowerCase();
  const known = TYPE_NAMES.find(([t]) => t === type);
  if (known) return known[1];
  const extension = extensionOf(attachment.name);
  return extension ? `${extension.toUpperCase()} file` : "File";
}

function extensionOf(name) {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(String(name || ""));
  return match ? match[1] : "";
}

/** The size of the thumbnail the server made, as it says (`thumbnail_width`, `thumbnail_height`);
 * null when it does not say, and the image then takes its own size as it loads. */
export function thumbnailSize(attachment) {
  const width = Number(attachment.thumbnail_width) || 0;
  const height = Number(attachment.thumbnail_height) || 0;
  return width && height ? { width, height } : null;
}

/** A path on our own origin ("/files/…/"), or "" for anything else. */
export function ownPath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "";
}

/** The attachment as the content of a message bubble. `files`: the widget's fetcher, else null. */
export function attachmentEl(attachment, files = null) {
  return attachment.kind === "image" && ownPath(attachment.thumbnail_url)
    ? imageEl(attachment, files)
    : fileEl(attachment, files);
}

function imageEl(attachment, files) {
  const figure = document.createElement("figure");
  figure.className = "hd-att hd-att--image";
  figure.dataset.testid = "attachment-image";
  const img = document.createElement("img");
  img.className = "hd-att__thumb";
  const size = thumbnailSize(attachment);
  if (size) {
    img.width = size.width;
    img.height = size.height;
  }
  img.alt = attachment.name || "Image";
  img.decoding = "async";
  img.dataset.testid = "attachment-thumbnail";
  const unavailable = () => img.replaceWith(unavailableEl());
  img.addEventListener("error", unavailable, { once: true });

  let opener;
  if (files) {
    opener = document.createElement("button");
    opener.type = "button";
    opener.addEventListener("click", () => files.openImage(attachment, opener));
    files.image(ownPath(attachment.thumbnail_url)).then((src) => (img.src = src), unavailable);
  } else {
    opener = document.createElement("a");
    opener.href = ownPath(attachment.url);
    opener.target = "_blank";
    opener.rel = "noopener";
    img.src = ownPath(attachment.thumbnail_url);
  }
  opener.className = "hd-att__open";
  opener.title = "Open the full image";
  opener.dataset.testid = "attachment-open";
  opener.append(img);

  const caption = document.createElement("figcaption");
  caption.className = "hd-att__caption";
  const name = document.createElement("bdi");
  name.textContent = attachment.name || "";
  caption.append(name);
  figure.append(opener, caption);
  return figure;
}

function fileEl(attachment, files) {
  const name = attachment.name || "file";
  let card;
  if (files) {
    card = document.createElement("button");
    card.type = "button";
  } else {
    card = document.createElement("a");
    card.href = ownPath(attachment.url);
    card.download = name;
  }
  card.className = "hd-att hd-att--file";
  card.dataset.testid = "attachment-file";
  card.title = `Download ${name}`;

  const icon = document.createElement("span");
  icon.className = "hd-att__icon";
  icon.setAttribute("aria-hidden", "true");
  icon.append(documentGlyph());
  const extension = extensionOf(name);
  if (extension) {
    const label = document.createElement("span");
    label.className = "hd-att__ext";
    label.textContent = extension.slice(0, 4).toUpperCase();
    icon.append(label);
  }

  const body = document.createElement("span");
  body.className = "hd-att__body";
  const nameEl = document.createElement("bdi");
  nameEl.className = "hd-att__name";
  nameEl.dataset.testid = "attachment-name";
  nameEl.textContent = name;
  const info = document.createElement("span");
  info.className = "hd-att__info";
  info.dataset.testid = "attachment-info";
  info.textContent = `${humanSize(attachment.size)} · ${typeName(attachment)}`;
  body.append(nameEl, info);
  card.append(icon, body);

  if (files) {
    card.addEventListener("click", () => {
      if (card.getAttribute("aria-busy") === "true") return;
      card.setAttribute("aria-busy", "true");
      files.download(attachment).then(
        () => card.removeAttribute("aria-busy"),
        () => {
          card.removeAttribute("aria-busy");
          info.textContent = UNAVAILABLE;
          card.classList.add("hd-att--unavailable");
        },
      );
    });
  }
  return card;
}

/** "File unavailable" where an image could not be read: text, never a broken image. */
export function unavailableEl() {
  const el = document.createElement("span");
  el.className = "hd-att__unavailable";
  el.dataset.testid = "attachment-unavailable";
  el.textContent = UNAVAILABLE;
  return el;
}

/** A page with a folded corner. */
function documentGlyph() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5L13 3.5z");
  svg.append(path);
  return svg;
}

// --- A file on its way (core/uploads.js), as a row above the reply box -----------------------------

/** The row of an upload: its name, a progress bar, what it is doing, and Cancel. */
export function uploadRowEl(upload, onCancel) {
  const li = document.createElement("li");
  li.className = "hd-upload";
  li.dataset.testid = "upload";
  const main = document.createElement("div");
  main.className = "hd-upload__main";
  const line = document.createElement("div");
  line.className = "hd-upload__line";
  const name = document.createElement("bdi");
  name.className = "hd-upload__name";
  name.textContent = upload.name;
  const status = document.createElement("span");
  status.className = "hd-upload__status";
  status.dataset.testid = "upload-status";
  line.append(name, status);
  const bar = document.createElement("progress");
  bar.className = "hd-upload__bar";
  bar.max = 1;
  bar.setAttribute("aria-label", `Sending ${upload.name}`);
  bar.dataset.testid = "upload-progress";
  main.append(line, bar);
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "hd-button hd-button--ghost hd-button--small hd-upload__cancel";
  cancel.dataset.testid = "upload-cancel";
  cancel.textContent = "Cancel";
  cancel.setAttribute("aria-label", `Cancel sending ${upload.name}`);
  cancel.addEventListener("click", onCancel);
  li.append(main, cancel);
  return li;
}

/** The row shows the upload as it stands. */
export function renderUploadRow(li, upload) {
  li.dataset.state = upload.state;
  const bar = li.querySelector("progress");
  const status = li.querySelector(".hd-upload__status");
  const size = humanSize(upload.size);
  if (upload.state === "sending" && upload.progress >= 1) {
    bar.removeAttribute("value"); // sent: the server is reading it (an image is re-encoded)
    status.textContent = `${size} · Processing…`;
  } else if (upload.state === "sending") {
    bar.value = upload.progress;
    status.textContent = `${size} · ${Math.floor(upload.progress * 100)}%`;
  } else if (upload.state === "retrying") {
    bar.value = 0;
    status.textContent = `${size} · Trying again…`;
  } else {
    bar.value = 0;
    status.textContent = `${size} · Waiting…`;
  }
}

/** Keep an upload's row in ``list`` (``rows``: upload -> row) as it goes: added, updated, removed once
 * it has finished; the list hidden while empty. Widget and console alike. */
export function showUpload(list, rows, upload, onCancel) {
  let row = rows.get(upload);
  if (upload.finished) {
    if (row) row.remove();
    rows.delete(upload);
  } else {
    if (!row) {
      row = uploadRowEl(upload, onCancel);
      rows.set(upload, row);
      list.append(row);
    }
    renderUploadRow(row, upload);
  }
  list.hidden = rows.size === 0;
}
