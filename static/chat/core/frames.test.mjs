// Unit tests of the frames clients send: `node --test static/chat/core/`.
//
// Beyond the shapes, every frame is checked against the tables of docs/protocol.md ("Frames a
// visitor sends", "Frames an agent sends"): a type the server does not list, or a field it does not
// name, fails here before a browser ever sends it.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import * as frames from "./frames.js";

const PROTOCOL = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

/** {type: Set(fields)} of the table under `heading` in docs/protocol.md. */
function documented(heading) {
  const section = PROTOCOL.split(`## ${heading}`)[1].split("\n## ")[0];
  const table = new Map();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const type = /^`([a-z.]+)`$/.exec(cells[1] || "");
    if (!type) continue;
    const fields = [...(cells[2] || "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    table.set(type[1], new Set(fields));
  }
  return table;
}

const VISITOR = documented("Frames a visitor sends");
const AGENT = documented("Frames an agent sends");

function assertDocumented(table, frame) {
  assert.ok(table.has(frame.type), `${frame.type} is not in the protocol's table`);
  for (const key of Object.keys(frame)) {
    if (key === "type") continue;
    assert.ok(table.get(frame.type).has(key), `${frame.type}.${key} is not a documented field`);
  }
}

describe("visitor frames", () => {
  test("hello carries the token only once there is one, and a short language", () => {
    assert.deepEqual(frames.hello(null, "en-GB"), { type: "hello", language: "en-GB" });
    assert.deepEqual(frames.hello("tok", "x".repeat(40)), { type: "hello", language: "x".repeat(16), token: "tok" });
    assert.deepEqual(frames.hello(undefined, undefined), { type: "hello", language: "" });
  });

  test("chat.start names a department only when one was chosen", () => {
    const base = { name: "Sam", email: "sam@example.com", text: "Hi" };
    assert.deepEqual(frames.chatStart(base), { type: "chat.start", ...base });
    assert.deepEqual(frames.chatStart({ ...base, department: 3 }, "c1"), {
      type: "chat.start",
      ...base,
      department: 3,
      client_id: "c1",
    });
  });

  test("resume, draft, receipt and page.view", () => {
    assert.deepEqual(frames.resume("K7", 12), { type: "resume", chat: "K7", after_seq: 12 });
    assert.deepEqual(frames.draft("K7", ""), { type: "typing", chat: "K7", text: "" });
    assert.deepEqual(frames.receipt("K7", 9, 7), { type: "receipt", chat: "K7", delivered_up_to: 9, read_up_to: 7 });
    assert.deepEqual(frames.pageView("https://shop.example/", "Shop"), {
      type: "page.view",
      url: "https://shop.example/",
      title: "Shop",
    });
  });

  // Widget: presence and after the chat
  test("presence says hidden or not; a rating carries its comment only when there is one", () => {
    assert.deepEqual(frames.presence(true), { type: "presence", hidden: true });
    assert.deepEqual(frames.presence(0), { type: "presence", hidden: false });
    assert.deepEqual(frames.chatRate("K7", "good"), { type: "chat.rate", chat: "K7", rating: "good" });
    assert.deepEqual(frames.chatRate("K7", "bad", "Slow"), { type: "chat.rate", chat: "K7", rating: "bad", comment: "Slow" });
    assert.deepEqual(frames.transcriptRequest("K7"), { type: "transcript.request", chat: "K7" });
  });

  test("every visitor frame is in the protocol's table, with documented fields only", () => {
    for (const frame of [
      frames.hello("tok", "en"),
      frames.chatStart({ name: "n", email: "e", text: "t", department: 1 }, "c"),
      frames.messageSend("K7", "t", "c"),
      frames.chatEnd("K7"),
      frames.resume("K7", 0),
      frames.draft("K7", "t"),
      frames.receipt("K7", 1, 1),
      frames.pageView("https://a.example/", "A"),
      frames.ping(),
      // Widget: presence and after the chat
      frames.presence(true),
      frames.chatRate("K7", "bad", "Slow"),
      frames.transcriptRequest("K7"),
    ]) {
      assertDocumented(VISITOR, frame);
    }
  });
});

describe("agent frames", () => {
  test("watch from a level, or from 0", () => {
    assert.deepEqual(frames.chatWatch("K7", 5), { type: "chat.watch", chat: "K7", after_seq: 5 });
    assert.deepEqual(frames.chatWatch("K7"), { type: "chat.watch", chat: "K7", after_seq: 0 });
  });

  test("typing says only whether, never what", () => {
    assert.deepEqual(frames.agentTyping("K7", true), { type: "typing", chat: "K7", active: true });
    assert.deepEqual(frames.agentTyping("K7", 0), { type: "typing", chat: "K7", active: false });
  });

  test("every agent frame is in the protocol's table, with documented fields only", () => {
    for (const frame of [
      frames.chatWatch("K7", 1),
      frames.chatUnwatch("K7"),
      frames.chatAccept("K7"),
      frames.messageSend("K7", "**hi**", "c"),
      frames.chatEnd("K7"),
      frames.agentTyping("K7", true),
      frames.ping(),
    ]) {
      assertDocumented(AGENT, frame);
    }
  });

  // Console: header and pane
  test("the header's and pane's frames are in the protocol's table, with documented fields only", () => {
    for (const frame of [
      frames.chatDetails("K7"),
      frames.labelAdd("K7", "vip"),
      frames.labelRemove("K7", "vip"),
      frames.chatStar("K7", "red"),
      frames.chatStar("K7", null),
      frames.chatDepartment("K7", 2),
      frames.chatDepartment("K7", null),
      frames.chatAssign("K7", 3),
      frames.transcriptSend("K7"),
      frames.messagePreview("**hi**", "p-1"),
      frames.messagePreview("**hi**"),
      frames.visitorBlock("K7", "Abusive language", true),
      frames.visitorBlock("K7", "Spam"),
    ]) {
      assertDocumented(AGENT, frame);
    }
  });

  test("a label is added or removed, never both; no star and no department are null", () => {
    assert.deepEqual(frames.labelAdd("K7", "vip"), { type: "chat.label", chat: "K7", add: "vip" });
    assert.deepEqual(frames.labelRemove("K7", "vip"), { type: "chat.label", chat: "K7", remove: "vip" });
    assert.deepEqual(frames.chatStar("K7", ""), { type: "chat.star", chat: "K7", colour: null });
    assert.deepEqual(frames.chatDepartment("K7", undefined), { type: "chat.department", chat: "K7", department: null });
    assert.deepEqual(frames.chatDepartment("K7", 0), { type: "chat.department", chat: "K7", department: 0 });
    assert.deepEqual(frames.chatAssign("K7", 3), { type: "chat.assign", chat: "K7", agent: 3 });
  });

  test("a block always says whether it takes the IP network too, and sends the reason as typed", () => {
    assert.deepEqual(frames.visitorBlock("K7", "Spam"), { type: "visitor.block", chat: "K7", reason: "Spam", ip: false });
    assert.deepEqual(frames.visitorBlock("K7", "  ", 1), { type: "visitor.block", chat: "K7", reason: "  ", ip: true });
  });
});

test("message.send leaves the client_id to the outbox unless given one", () => {
  assert.deepEqual(frames.messageSend("K7", "hi"), { type: "message.send", chat: "K7", text: "hi" });
  assert.equal(frames.messageSend("K7", "hi", "c9").client_id, "c9");
});

test("each call makes a new object: the outbox may add to it", () => {
  assert.notEqual(frames.ping(), frames.ping());
  const a = frames.messageSend("K7", "hi");
  a.client_id = "x";
  assert.equal(frames.messageSend("K7", "hi").client_id, undefined);
});
