// Reading the chat's files in the widget (docs/protocol.md, "Reading a file"). An <img> cannot send
// a header and the visitor's token never goes in a URL, so each file is fetched with the
// X-Visitor-Token header and shown from a blob: URL. Thumbnails and full images are kept per URL (one
// ref each) while the conversation is on screen, and their blob URLs revoked when it is torn down
// (clear); a download's blob lives only as long as its click needs it.
//
// This is the `files` core/attachment.js draws the widget's attachments with.

const DOWNLOAD_KEEP_MS = 60_000; // a download's blob URL is revoked after this

export class WidgetFiles {
  /**
   * @param {object} options
   * @param {function(): string|null} options.token  the visitor's token, as it is now
   * @param {object} options.lightbox  shows a full image (widget/lightbox.js)
   */
  constructor({ token, lightbox, fetch = (...args) => globalThis.fetch(...args) }) {
    this.token = token;
    this.lightbox = lightbox;
    this.fetch = fetch;
    this.urls = new Map(); // file URL -> Promise of its blob: URL
    this.generation = 0; // bumped by clear(): a fetch that answers after it is not kept
  }

  /** The blob: URL of an image (a thumbnail or the full image), fetched once per URL. */
  image(url) {
    if (!url) return Promise.reject(new Error("no file"));
    let found = this.urls.get(url);
    if (!found) {
      const generation = this.generation;
      found = this.blob(url).then((blob) => {
        const objectUrl = URL.createObjectURL(blob);
        if (generation !== this.generation) {
          URL.revokeObjectURL(objectUrl);
          throw new Error("the conversation was cleared");
        }
        return objectUrl;
      });
      this.urls.set(url, found);
      // A failure is not kept: the next time it is drawn, it is asked for again.
      found.catch(() => this.urls.get(url) === found && this.urls.delete(url));
    }
    return found;
  }

  /** The full image in the lightbox; focus goes back to `trigger` when it closes. */
  openImage(attachment, trigger) {
    this.lightbox.open({ name: attachment.name || "Image", load: () => this.image(attachment.url), trigger });
  }

  /** Download a file under its name: fetched with the token, saved through a temporary <a download>. */
  async download(attachment) {
    const blob = await this.blob(attachment.url);
    const objectUrl = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = objectUrl;
    link.download = attachment.name || "file";
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(objectUrl), DOWNLOAD_KEEP_MS);
  }

  async blob(url) {
    const token = this.token();
    if (!url || !token) throw new Error("no file or no token");
    const response = await this.fetch(url, { headers: { "X-Visitor-Token": token }, credentials: "omit" });
    if (!response.ok) throw new Error(`file answered ${response.status}`);
    return response.blob();
  }

  /** The conversation is torn down: every blob URL goes. */
  clear() {
    this.generation += 1;
    for (const found of this.urls.values()) found.then((objectUrl) => URL.revokeObjectURL(objectUrl), () => {});
    this.urls.clear();
  }
}
