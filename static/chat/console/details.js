// What the console knows of one chat beyond its messages: the ticket, the visitor, my star, and the
// choices the pane offers (protocol `details`, with `star`, `presence` and `chat.rated` on top).
// No markup of its own: the parts that show details (header, labels, stars, the Ticket and Chat tabs)
// have a `showDetails(details)` that hears every change, after their `update(chat)`.
//
// Asked for (`chat.details`) when the view starts watching the chat and after every reconnect
// (app.js); the server broadcasts every change after that (a transcript email going out included). A
// change of the chat's state asks again too: a broadcast lost on the way is then repaired with the
// `chat` frame that a resume sends again.

import * as frames from "../core/frames.js";
import { mergeDetails, withPresence, withRating, withStar } from "../core/details.js";

export class Details {
  constructor(view) {
    this.view = view;
    this.data = null; // the merged details; null until the first frame
    this.seen = null; // {status, agent_id} of the chat, to ask again when they change
  }

  /** Ask the server for the whole picture (answered with `details`). */
  request() {
    return this.view.ctx.send(frames.chatDetails(this.view.id));
  }

  update(chat) {
    if (!chat) return;
    const now = { status: chat.status, agent_id: chat.agent_id };
    const before = this.seen;
    this.seen = now;
    if (before && (before.status !== now.status || before.agent_id !== now.agent_id)) this.request();
  }

  frame(frame) {
    switch (frame.type) {
      case "details":
        this.set(mergeDetails(this.data, frame));
        break;
      case "star":
        this.set(withStar(this.data, frame.colour));
        break;
      case "presence":
        if (frame.state !== this.data?.visitor?.presence) this.announcePresence(frame.state);
        this.set(withPresence(this.data, frame));
        break;
      case "chat.rated":
        this.set(withRating(this.data, frame));
        this.announceRating(frame);
        break;
      default:
    }
  }

  set(data) {
    if (!data) return;
    this.data = data;
    this.view.showDetails(data);
  }

  /** The visitor of the chat in front came, went to another tab or left: said, not only drawn. */
  announcePresence(state) {
    if (!this.view.ctx.inFront(this.view.id)) return;
    const who = this.view.chat?.visitor?.name || "The visitor";
    const words = { online: "is back", away: "is away: their page is in a background tab", gone: "has left the site" };
    if (words[state]) this.view.ctx.announce(`${who} ${words[state]}.`);
  }

  announceRating({ rating, comment }) {
    const who = this.view.chat?.visitor?.name || "The visitor";
    const how = rating === "good" ? "good" : "bad";
    this.view.ctx.announce(`${who} rated the chat ${how}${comment ? `: ${comment}` : "."}`);
  }
}
