// Unit tests of the upload queue shared by the widget and the console: `node --test static/chat/core/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { Uploader, MAX_TRIES, fileProblem, humanSize, readLimits, uploadName } from "./uploads.js";
import { RETRY_MIN_MS } from "./cursor.js";
import { FakeClock } from "./fake-clock.mjs";

/** An XMLHttpRequest that records what it was asked and answers when the test says. */
class FakeXhr {
  constructor(log) {
    this.log = log;
    this.headers = {};
    this.upload = {};
    this.aborted = false;
    this.status = 0;
    this.responseText = "";
    this.responseHeaders = {};
    log.push(this);
  }

  open(method, url) {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name, value) {
    this.headers[name] = value;
  }

  getResponseHeader(name) {
    return this.responseHeaders[name] ?? null;
  }

  send(body) {
    this.body = body;
  }

  abort() {
    this.aborted = true;
    if (this.onabort) this.onabort();
  }

  // --- what the test makes happen ---

  progress(loaded, total) {
    this.upload.onprogress({ lengthComputable: true, loaded, total });
  }

  answer(status, body, headers = {}) {
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.responseHeaders = headers;
    this.onload();
  }

  fail() {
    this.onerror();
  }
}

function file(name, size, type = "application/octet-stream") {
  return { name, size, type };
}

function stored(chat, seq, clientId) {
  return { chat, duplicate: false, message: { seq, client_id: clientId, attachment: { ref: "r" } } };
}

function setup(options = {}) {
  const xhrs = [];
  const events = { changes: [], stored: [], failed: [] };
  const clock = new FakeClock();
  let n = 0;
  const uploader = new Uploader({
    url: (chat) => `/chat/${chat}/uploads/`,
    headers: () => ({ "X-Visitor-Token": "tok-1" }),
    maxBytes: 1000,
    onChange: (u) => events.changes.push([u.state, u.progress]),
    onStored: (u, answer) => events.stored.push([u, answer]),
    onFailed: (u, message) => events.failed.push([u, message]),
    newXhr: () => new FakeXhr(xhrs),
    newId: () => `c-${++n}`,
    clock,
    ...options,
  });
  return { uploader, xhrs, events, clock };
}

describe("Uploader", () => {
  test("sends the bytes with the page's headers, the client_id and the encoded name", () => {
    const { uploader, xhrs } = setup();
    const f = file("résumé 1.pdf", 10);
    uploader.add(f, "K7QX2MPA");
    assert.equal(xhrs.length, 1);
    const [xhr] = xhrs;
    assert.equal(xhr.method, "POST");
    assert.equal(xhr.url, "/chat/K7QX2MPA/uploads/");
    assert.equal(xhr.body, f);
    assert.equal(xhr.headers["X-Visitor-Token"], "tok-1");
    assert.equal(xhr.headers["X-Client-Id"], "c-1");
    assert.equal(xhr.headers["X-File-Name"], "r%C3%A9sum%C3%A9%201.pdf");
  });

  test("reports progress from 0 to 1 and hands over the stored message", () => {
    const { uploader, xhrs, events } = setup();
    const upload = uploader.add(file("a.png", 400), "C1");
    assert.equal(upload.state, "sending");
    xhrs[0].progress(100, 400);
    assert.equal(upload.progress, 0.25);
    xhrs[0].progress(400, 400);
    assert.equal(upload.progress, 1);
    xhrs[0].answer(201, stored("C1", 7, "c-1"));
    assert.equal(upload.state, "done");
    assert.equal(events.stored.length, 1);
    assert.equal(events.stored[0][1].message.seq, 7);
    assert.deepEqual(events.changes.map(([, p]) => p).filter((p) => p > 0 && p < 1), [0.25]);
    assert.deepEqual(uploader.pending(), []);
  });

  test("a duplicate answer (200) is stored too", () => {
    const { uploader, xhrs, events } = setup();
    uploader.add(file("a.png", 10), "C1");
    xhrs[0].answer(200, { ...stored("C1", 3, "c-1"), duplicate: true });
    assert.equal(events.stored.length, 1);
    assert.equal(events.stored[0][1].duplicate, true);
  });

  test("several files go one at a time, in order", () => {
    const { uploader, xhrs, events } = setup();
    const first = uploader.add(file("1.png", 10), "C1");
    const second = uploader.add(file("2.png", 10), "C1");
    assert.equal(xhrs.length, 1, "the second waits for the first");
    assert.equal(second.state, "waiting");
    xhrs[0].answer(201, stored("C1", 4, first.clientId));
    assert.equal(xhrs.length, 2);
    assert.equal(xhrs[1].headers["X-File-Name"], "2.png");
    xhrs[1].answer(201, stored("C1", 5, second.clientId));
    assert.deepEqual(events.stored.map(([u]) => u.name), ["1.png", "2.png"]);
  });

  test("cancel aborts the request, tells nothing more, and the next file goes", () => {
    const { uploader, xhrs, events } = setup();
    const first = uploader.add(file("1.png", 10), "C1");
    uploader.add(file("2.png", 10), "C1");
    xhrs[0].progress(5, 10);
    uploader.cancel(first);
    assert.equal(xhrs[0].aborted, true);
    assert.equal(first.state, "cancelled");
    assert.equal(xhrs.length, 2, "the next one is sent");
    // A late answer of the aborted request changes nothing.
    xhrs[0].answer(201, stored("C1", 4, first.clientId));
    assert.equal(first.state, "cancelled");
    assert.equal(events.stored.length, 0);
    assert.equal(events.failed.length, 0);
  });

  test("cancel of a file still waiting sends nothing for it", () => {
    const { uploader, xhrs } = setup();
    uploader.add(file("1.png", 10), "C1");
    const second = uploader.add(file("2.png", 10), "C1");
    uploader.cancel(second);
    xhrs[0].answer(201, stored("C1", 4, "c-1"));
    assert.equal(xhrs.length, 1);
  });

  test("a network failure is retried after a backoff with the same client_id", () => {
    const { uploader, xhrs, events, clock } = setup();
    const upload = uploader.add(file("a.png", 10), "C1");
    xhrs[0].fail();
    assert.equal(upload.state, "retrying");
    assert.equal(xhrs.length, 1, "not at once");
    clock.advance(RETRY_MIN_MS);
    assert.equal(xhrs.length, 2);
    assert.equal(xhrs[1].headers["X-Client-Id"], xhrs[0].headers["X-Client-Id"]);
    xhrs[1].fail();
    clock.advance(RETRY_MIN_MS);
    assert.equal(xhrs.length, 2, "the second wait is longer");
    clock.advance(RETRY_MIN_MS);
    assert.equal(xhrs.length, 3);
    xhrs[2].answer(201, stored("C1", 9, upload.clientId));
    assert.equal(upload.state, "done");
    assert.equal(events.failed.length, 0);
  });

  test("429 waits the server's retry_after, 5xx retries, and both keep the client_id", () => {
    const { uploader, xhrs, clock } = setup();
    const upload = uploader.add(file("a.png", 10), "C1");
    xhrs[0].answer(429, { error: { code: "rate_limited", message: "Too many files.", retry_after: 7 } }, { "Retry-After": "7" });
    clock.advance(6_999);
    assert.equal(xhrs.length, 1);
    clock.advance(1);
    assert.equal(xhrs.length, 2);
    xhrs[1].answer(502, "<html>Bad gateway</html>");
    clock.advance(60_000);
    assert.equal(xhrs.length, 3);
    assert.deepEqual(new Set(xhrs.map((x) => x.headers["X-Client-Id"])), new Set([upload.clientId]));
  });

  test("retryable failures become final after a few tries, with a readable reason", () => {
    const { uploader, xhrs, events, clock } = setup();
    const upload = uploader.add(file("a.png", 10), "C1");
    for (let i = 0; i < MAX_TRIES; i++) {
      xhrs[i].fail();
      clock.advance(60_000);
    }
    assert.equal(xhrs.length, MAX_TRIES);
    assert.equal(upload.state, "failed");
    assert.equal(events.failed.length, 1);
    assert.match(events.failed[0][1], /a\.png could not be sent/);
  });

  test("any other error is final, with the server's message as it is", () => {
    const { uploader, xhrs, events, clock } = setup();
    const upload = uploader.add(file("cat.png", 10), "C1");
    uploader.add(file("next.png", 10), "C1");
    const message = "This file's name ends in .png, but the file is a PDF document. Rename it and try again.";
    xhrs[0].answer(400, { error: { code: "invalid", message } });
    assert.equal(upload.state, "failed");
    assert.deepEqual(events.failed.map(([, m]) => m), [message]);
    clock.advance(60_000);
    assert.equal(xhrs.length, 2, "no retry; the next file goes");
    assert.equal(xhrs[1].headers["X-File-Name"], "next.png");
  });

  test("an answer that is not JSON (Django's CSRF page) is final and says so", () => {
    const { uploader, xhrs, events } = setup();
    uploader.add(file("a.png", 10), "C1");
    xhrs[0].answer(403, "<h1>Forbidden (403)</h1>");
    assert.match(events.failed[0][1], /answered 403/);
  });

  test("a file over the page's limit, or empty, is refused before anything is sent", () => {
    const { uploader, xhrs, events } = setup({ maxBytes: 1000 });
    const big = uploader.add(file("big.zip", 1001), "C1");
    const empty = uploader.add(file("empty.txt", 0), "C1");
    assert.equal(xhrs.length, 0);
    assert.equal(big.state, "failed");
    assert.equal(empty.state, "failed");
    assert.deepEqual(events.failed.map(([, m]) => m), [
      "big.zip is 1001 bytes: larger than 1000 bytes, the most that can be sent here.",
      "empty.txt is empty: there is nothing in it to send.",
    ]);
    uploader.add(file("ok.zip", 1000), "C1");
    assert.equal(xhrs.length, 1, "at the limit is fine");
  });

  test("client_ids are new per file and fit the protocol", () => {
    const { uploader, xhrs } = setup({ newId: undefined });
    uploader.add(file("1.png", 10), "C1");
    xhrs[0].answer(201, stored("C1", 1, xhrs[0].headers["X-Client-Id"]));
    uploader.add(file("2.png", 10), "C1");
    const ids = xhrs.map((x) => x.headers["X-Client-Id"]);
    assert.notEqual(ids[0], ids[1]);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9\-_.:]{1,64}$/);
  });
});

describe("what the pages show of files", () => {
  test("human sizes", () => {
    assert.equal(humanSize(0), "0 bytes");
    assert.equal(humanSize(1), "1 byte");
    assert.equal(humanSize(1023), "1023 bytes");
    assert.equal(humanSize(1536), "1.5 KB");
    assert.equal(humanSize(48213), "47 KB");
    assert.equal(humanSize(1.2 * 1024 * 1024), "1.2 MB");
    assert.equal(humanSize(20 * 1024 * 1024), "20 MB");
    assert.equal(humanSize(3 * 1024 ** 3), "3 GB");
  });

  test("the page's limits are read from its data attributes", () => {
    const limits = readLimits({ uploadMaxBytes: "1048576", uploadAccept: ".png,.pdf", uploadKinds: "PNG or PDF" });
    assert.deepEqual(limits, { maxBytes: 1048576, accept: ".png,.pdf", kinds: "PNG or PDF", enabled: true });
    assert.equal(readLimits({ uploadAccept: "" }).enabled, false);
  });

  test("fileProblem is empty for a file that may go", () => {
    assert.equal(fileProblem({ name: "a", size: 5 }, 5), "");
    assert.equal(fileProblem({ name: "a", size: 5 }, 0), "", "no limit known: the server checks");
  });

  test("a pasted bitmap gets a name of its time; a named file keeps its own", () => {
    const now = new Date(2026, 11, 2, 15, 30);
    assert.equal(uploadName({ name: "", type: "image/png" }, { pasted: true, now }), "pasted-image-2026-12-02-1530.png");
    assert.equal(uploadName({ name: "image.png", type: "image/png" }, { pasted: true, now }), "pasted-image-2026-12-02-1530.png");
    assert.equal(uploadName({ name: "", type: "image/jpeg" }, { pasted: true, now }), "pasted-image-2026-12-02-1530.jpg");
    assert.equal(uploadName({ name: "report.pdf", type: "application/pdf" }, { pasted: true, now }), "report.pdf");
    assert.equal(uploadName({ name: "image.png", type: "image/png" }, { now }), "image.png", "picked, not pasted");
  });
});
