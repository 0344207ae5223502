// What the console tells the agent outside any chat: the connection pill and banner, the alert bar
// (dismissible; sticky for a closed session), the quiet "live updates are delayed" line, and
// announcements for screen readers.

export class Notices {
  constructor(ui) {
    this.ui = ui; // conn, banner, liveNotice, alertbar, alertText, alertLink, alertClose, announce
    this.alertTimer = null;
    ui.alertClose.addEventListener("click", () => this.hideAlert());
  }

  alert(message, { sticky = false, link = null } = {}) {
    const { ui } = this;
    ui.alertText.textContent = message;
    ui.alertLink.hidden = !link;
    if (link) {
      ui.alertLink.href = link.href;
      ui.alertLink.textContent = link.text;
    }
    ui.alertbar.hidden = false;
    clearTimeout(this.alertTimer);
    if (!sticky) this.alertTimer = setTimeout(() => this.hideAlert(), 10000);
  }

  hideAlert() {
    this.ui.alertbar.hidden = true;
  }

  announce(text) {
    // Re-setting the same text would not be read again: clear first.
    const el = this.ui.announce;
    el.textContent = "";
    requestAnimationFrame(() => {
      el.textContent = text;
    });
  }

  /** Shown while we are online and the server says live delivery is degraded. */
  live(delayed) {
    this.ui.liveNotice.hidden = !delayed;
  }

  status(status, info) {
    const { ui } = this;
    ui.conn.textContent = {
      online: "Online",
      connecting: info.everOnline ? "Reconnecting…" : "Connecting…",
      offline: "Reconnecting…",
      stopped: "Disconnected",
    }[status];
    ui.conn.dataset.state = status;
    // The pill in the top bar is easy to miss: once we have been online, say it loud.
    ui.banner.hidden = !(info.everOnline && (status === "connecting" || status === "offline"));
    ui.banner.textContent = "Reconnecting… Messages you send now go out when the connection is back.";
  }
}
