/*
 * Helpdesk chat loader. Put this on any page of your website:
 *
 *   <script src="https://helpdesk.example.com/static/chat/widget.js" async></script>
 *
 * It adds a launcher button and the chat iframe (served by the helpdesk, so the visitor's token and
 * socket live on the helpdesk's origin, not on your site, unless the browser refuses the iframe its
 * storage: see "Storage bridge" below). The iframe is created at once and only hidden while closed,
 * so the chat keeps running and can count unread replies.
 *
 * Host page <-> iframe messages (postMessage, always with the helpdesk origin as target, and only
 * accepted from that origin and that iframe):
 *   iframe -> host  {type: "hd:ready", open: bool}   {type: "hd:close"}   {type: "hd:unread", count: n}
 *                   {type: "hd:storage-load"}   {type: "hd:storage-set", key, value: string}
 *                   {type: "hd:storage-remove", key}
 *   host -> iframe  {type: "hd:open", focus: bool}   {type: "hd:closed"}
 *                   {type: "hd:page", url: location.href, title: document.title}
 *                   {type: "hd:storage", values: {key: string|null}, complete: bool}
 * (focus: the visitor opened the chat just now, so the chat may take the keyboard focus; not when
 * the open state is only restored on a new page.)
 * hd:page goes when the iframe is ready and after every navigation of a single-page app
 * (history.pushState/replaceState, popstate, hashchange), so agents see which page the visitor is on.
 *
 * Storage bridge: where the browser refuses the iframe its own storage (third-party storage blocked:
 * Safari, Firefox's strict mode, Chromium without partitioning), the iframe asks for what this page
 * keeps for it (hd:storage-load, before anything else; answered at once by hd:storage with every
 * value and complete: true) and sends each change (hd:storage-set, hd:storage-remove; keys "hd.…",
 * values JSON text). They are kept in this page's localStorage (else sessionStorage, else memory for
 * this page), one item per key, named "helpdesk-chat|<helpdesk origin>|<key>". Changes made by the
 * chat in another tab of this site are passed on as hd:storage (complete: false; null: removed).
 * The visitor's token is then readable by this page's scripts. Nothing is stored here unless the
 * iframe asks.
 */
(function () {
  "use strict";

  var FLAG = "__helpdeskChatLoader"; // the only global: a guard against being included twice
  if (window[FLAG]) return;

  var script = document.currentScript;
  if (!script) {
    // Very old browsers only: find ourselves by name.
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/chat\/widget\.js(\?|#|$)/.test(scripts[i].src)) {
        script = scripts[i];
        break;
      }
    }
  }
  if (!script || !script.src) return;
  window[FLAG] = true;

  var HELPDESK = new URL(script.src, location.href).origin;
  var FRAME_URL = HELPDESK + "/widget/?host=" + encodeURIComponent(location.origin);
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICON_CHAT =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.5 3.6A.5.5 0 0 1 4 21.2V18a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";

  // Styles live in a shadow root, so the host page's CSS cannot reach our elements and ours
  // cannot leak onto the page.
  var CSS = [
    ":host{all:initial}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483646;box-sizing:border-box;",
    "width:60px;height:60px;margin:0;padding:0;border:0;border-radius:50%;cursor:pointer;",
    "background:var(--hd-accent,#2f54eb);color:#fff;display:flex;align-items:center;justify-content:center;",
    "box-shadow:0 6px 20px rgba(15,23,42,.28);transition:transform .15s ease,box-shadow .15s ease}",
    ".launcher:hover{transform:scale(1.05);box-shadow:0 8px 26px rgba(15,23,42,.34)}",
    ".launcher:focus{outline:none}",
    ".launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:3px}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".badge{position:absolute;top:-3px;right:-3px;box-sizing:border-box;min-width:22px;height:22px;",
    "padding:0 6px;border-radius:11px;border:2px solid #fff;background:#e5484d;color:#fff;",
    "font:700 12px/18px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:center}",
    ".badge[hidden]{display:none}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".panel{position:fixed;right:20px;bottom:92px;z-index:2147483647;box-sizing:border-box;",
    "width:380px;height:640px;max-height:calc(100vh - 112px);border:0;border-radius:16px;",
    "background:#fff;box-shadow:0 16px 48px rgba(15,23,42,.24);color-scheme:normal;",
    "visibility:hidden;opacity:0;transform:translateY(16px) scale(.98);transform-origin:bottom right;",
    "transition:opacity .18s ease,transform .18s ease,visibility 0s linear .18s}",
    ".panel.open{visibility:visible;opacity:1;transform:none;transition:opacity .18s ease,transform .18s ease}",
    "@media (max-width:480px){",
    ".panel{right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}",
    ".launcher.open{display:none}",
    "}",
    "@media (prefers-reduced-motion:reduce){.panel,.panel.open,.launcher{transition:none}}",
  ].join("");

  var READY_WAIT_MS = 8000; // no hd:ready by then: the helpdesk was unreachable, load the iframe again
  // Single-page apps often set the new title just after pushState: wait a little to report it.
  var PAGE_SETTLE_MS = 300;
  var pageTimer = null;
  var isOpen = false;
  var ready = false;
  var readyTimer = null;
  var readyWait = READY_WAIT_MS;
  var unread = 0;
  var hostEl, root, launcher, icon, badge, badgeText, frame;
  var STORE_PREFIX = "helpdesk-chat|" + HELPDESK + "|";
  var STORE_KEY = /^hd\.[A-Za-z0-9._-]{1,64}$/; // the iframe's keys (core/hoststore.js: KEY_RE)
  var STORE_MAX_CHARS = 500000; // a larger value stays in memory: this page's quota is the site's
  var store = null; // the bridge's storage, chosen when the iframe first asks; false: memory only
  var memory = {}; // values this page's storage refused

  function svgIcon(path) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }

  function addStyles(target) {
    // A constructed stylesheet is not an inline <style>, so a strict style-src CSP on the host
    // page does not block it. Older browsers get a <style> element.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      target.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = CSS;
      target.appendChild(style);
    }
  }

  function build() {
    hostEl = document.createElement("div");
    hostEl.id = "helpdesk-chat";
    root = hostEl.attachShadow ? hostEl.attachShadow({ mode: "open" }) : hostEl;
    addStyles(root);

    frame = document.createElement("iframe");
    frame.id = "hd-frame";
    frame.className = "panel";
    frame.title = "Chat window";
    frame.src = FRAME_URL;
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;

    launcher = document.createElement("button");
    launcher.id = "hd-launcher";
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.setAttribute("aria-label", "Chat with us");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "hd-frame");
    launcher.setAttribute("aria-describedby", "hd-unread");
    icon = svgIcon(ICON_CHAT);
    launcher.appendChild(icon);

    badge = document.createElement("span");
    badge.id = "hd-badge";
    badge.className = "badge";
    badge.setAttribute("aria-hidden", "true");
    badge.hidden = true;
    launcher.appendChild(badge);

    badgeText = document.createElement("span");
    badgeText.id = "hd-unread";
    badgeText.className = "sr";

    root.appendChild(frame);
    root.appendChild(launcher);
    root.appendChild(badgeText);
    document.body.appendChild(hostEl);
    waitForReady();

    launcher.addEventListener("click", function () {
      setOpen(!isOpen, true);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen) setOpen(false, true);
    });
    window.addEventListener("message", onMessage);
    watchNavigation();
  }

  function reportPage() {
    clearTimeout(pageTimer);
    post({ type: "hd:page", url: location.href, title: document.title });
  }

  function pageChanged() {
    clearTimeout(pageTimer);
    pageTimer = setTimeout(reportPage, PAGE_SETTLE_MS);
  }

  // Navigations of a single-page app load no new page: wrap the history methods (keeping whatever
  // the page or another script put there) and listen for back/forward and hash changes.
  function watchNavigation() {
    ["pushState", "replaceState"].forEach(function (name) {
      var original = history[name];
      if (typeof original !== "function") return;
      history[name] = function () {
        var result = original.apply(this, arguments);
        pageChanged();
        return result;
      };
    });
    window.addEventListener("popstate", pageChanged);
    window.addEventListener("hashchange", pageChanged);
  }

  // A page that loads while the helpdesk is down gets an error page in the iframe, which never says
  // hd:ready. Load it again, less and less often, until it does.
  function waitForReady() {
    clearTimeout(readyTimer);
    readyTimer = setTimeout(function () {
      if (ready) return;
      readyWait = Math.min(readyWait * 2, 60000);
      frame.src = FRAME_URL;
      waitForReady();
    }, readyWait);
  }

  function post(message) {
    if (ready) postFrame(message);
  }

  function postFrame(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(message, HELPDESK);
  }

  // --- Storage bridge (see the top): never throws, whatever the page's storage does. ---

  function openStore() {
    if (store !== null) return;
    store = false;
    var kinds = ["localStorage", "sessionStorage"];
    for (var i = 0; i < kinds.length && !store; i++) {
      try {
        var candidate = window[kinds[i]];
        candidate.setItem(STORE_PREFIX + "probe", "1");
        candidate.removeItem(STORE_PREFIX + "probe");
        store = candidate;
      } catch (e) {
        /* refused: try the next */
      }
    }
    if (store) window.addEventListener("storage", onStorage);
  }

  function storedValues() {
    var values = {};
    var key;
    try {
      for (var i = 0; store && i < store.length; i++) {
        var name = store.key(i) || "";
        key = name.slice(STORE_PREFIX.length);
        if (name.indexOf(STORE_PREFIX) === 0 && STORE_KEY.test(key)) values[key] = store.getItem(name);
      }
    } catch (e) {
      /* what was read so far */
    }
    for (key in memory) if (Object.prototype.hasOwnProperty.call(memory, key)) values[key] = memory[key];
    return values;
  }

  function storeSet(key, value) {
    openStore();
    try {
      if (store && value.length <= STORE_MAX_CHARS) {
        store.setItem(STORE_PREFIX + key, value);
        delete memory[key];
        return;
      }
    } catch (e) {
      /* the page's quota is full */
    }
    storeRemove(key); // no stale copy left for the other tabs
    memory[key] = value;
  }

  function storeRemove(key) {
    openStore();
    delete memory[key];
    try {
      if (store) store.removeItem(STORE_PREFIX + key);
    } catch (e) {
      /* nothing to do */
    }
  }

  // Another tab of this site changed a value: the iframe here reads what it would in localStorage.
  function onStorage(event) {
    if (event.storageArea !== store) return;
    if (event.key === null) {
      postFrame({ type: "hd:storage", values: storedValues(), complete: true }); // storage cleared
      return;
    }
    var key = event.key.slice(STORE_PREFIX.length);
    if (event.key.indexOf(STORE_PREFIX) !== 0 || !STORE_KEY.test(key)) return;
    var values = {};
    values[key] = event.newValue;
    postFrame({ type: "hd:storage", values: values, complete: false });
  }

  function setOpen(open, byUser) {
    isOpen = open;
    frame.classList.toggle("open", open);
    launcher.classList.toggle("open", open);
    frame.setAttribute("aria-hidden", open ? "false" : "true");
    frame.tabIndex = open ? 0 : -1;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.replaceChild(svgIcon(open ? ICON_CLOSE : ICON_CHAT), icon);
    icon = launcher.firstChild;
    renderBadge();
    post(open ? { type: "hd:open", focus: Boolean(byUser) } : { type: "hd:closed" });
    if (byUser) {
      if (open) frame.focus();
      else launcher.focus();
    }
  }

  function renderBadge() {
    var show = unread > 0 && !isOpen;
    badge.hidden = !show;
    badge.textContent = show ? (unread > 9 ? "9+" : String(unread)) : "";
    badgeText.textContent = show ? unread + (unread === 1 ? " unread message" : " unread messages") : "";
  }

  function onMessage(event) {
    if (event.origin !== HELPDESK || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (data.type === "hd:ready") {
      ready = true;
      clearTimeout(readyTimer);
      readyWait = READY_WAIT_MS;
      if (data.open === true && !isOpen) setOpen(true, false);
      // Opened by the visitor before the iframe was ready: hand it the focus now.
      else post(isOpen ? { type: "hd:open", focus: true } : { type: "hd:closed" });
      reportPage();
    } else if (data.type === "hd:close") {
      if (isOpen) setOpen(false, true);
    } else if (data.type === "hd:unread") {
      var count = Number(data.count);
      unread = isFinite(count) && count > 0 ? Math.floor(count) : 0;
      renderBadge();
    } else if (data.type === "hd:storage-load") {
      openStore();
      postFrame({ type: "hd:storage", values: storedValues(), complete: true });
    } else if (typeof data.key === "string" && STORE_KEY.test(data.key)) {
      if (data.type === "hd:storage-set" && typeof data.value === "string") storeSet(data.key, data.value);
      else if (data.type === "hd:storage-remove") storeRemove(data.key);
    }
  }

  // With `async` the script may run before <body> exists.
  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);
})();
