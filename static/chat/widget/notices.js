// What the widget tells the visitor outside the conversation: the connection banner, the quiet
// "live updates are delayed" line, and a passing alert.

const ALERT_MS = 8000;

export class Notices {
  constructor() {
    const $ = (id) => document.getElementById(id);
    this.banner = $("hd-banner");
    this.liveNotice = $("hd-live-notice");
    this.alertEl = $("hd-alert");
    this.loadingText = $("hd-view-loading").querySelector("p");
    this.alertTimer = null;
  }

  alert(message) {
    this.alertEl.textContent = message;
    this.alertEl.hidden = false;
    clearTimeout(this.alertTimer);
    this.alertTimer = setTimeout(() => {
      this.alertEl.hidden = true;
    }, ALERT_MS);
  }

  /** Shown while we are online and the server says live delivery is degraded. */
  live(delayed) {
    this.liveNotice.hidden = !delayed;
  }

  status(status, info) {
    if (status === "online" || status === "blocked") {
      // Blocked: the blocked view says it all; there is nothing to reconnect to.
      this.banner.hidden = true;
    } else if (status === "stopped") {
      this.banner.textContent = "Chat is unavailable. Please reload the page.";
      this.banner.hidden = false;
    } else if (info.everOnline) {
      this.banner.textContent = "Reconnecting…";
      this.banner.hidden = false;
    } else if (info.attempt >= 3) {
      this.loadingText.textContent = "We can't reach the chat right now. Still trying…";
    }
  }
}
