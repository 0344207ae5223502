// After a chat: the visitor's rating (good or bad, with an optional comment) and their request for
// the transcript by email (docs/protocol.md: chat.rate, chat.rated, transcript.request,
// transcript.requested). No DOM: the state the widget draws (widget/afterchat.js), tested with
// `node --test`.
//
// What the thumbs and the comment box show is what is sent: a rating goes with the comment in the
// box, or not at all while that comment is too long. The server's answer is the record; until it
// comes the choice shows as sending, and a refusal puts back what the server has.
// What the server answered is kept (saved()); where nothing was kept, the chat object's `rating` says it.

import * as frames from "./frames.js";

export const RATINGS = Object.freeze(["good", "bad"]);

/** Why a comment cannot go ("" when it can). Counted as the server counts, after trimming. */
export function commentProblem(text, maxChars) {
  if ([...String(text).trim()].length <= maxChars) return "";
  return `A comment can be at most ${maxChars.toLocaleString("en")} characters long.`;
}

/** "12 / 1,000" under the comment box. */
export function commentCount(text, maxChars) {
  return `${[...String(text)].length.toLocaleString("en")} / ${maxChars.toLocaleString("en")}`;
}

export class Feedback {
  /**
   * @param {object} options
   * @param {string} options.chat  the ended chat's ID
   * @param {number} options.maxChars  the longest comment the server keeps
   * @param {object} [options.saved]  what saved() gave before, for any chat (only this chat's is used)
   * @param {object} [options.known]  the chat object's `rating` ({value, comment}) as the server sent it:
   *        used when nothing was saved here (another device, storage cleared)
   */
  constructor({ chat, maxChars, saved = null, known = null }) {
    const fromServer = known && RATINGS.includes(known.value) ? { rating: known.value, comment: known.comment } : {};
    const mine = saved && saved.chat === chat ? saved : fromServer;
    this.chat = chat;
    this.maxChars = maxChars;
    this.rating = RATINGS.includes(mine.rating) ? mine.rating : null; // as the server has it
    this.comment = typeof mine.comment === "string" ? mine.comment : "";
    this.to = typeof mine.to === "string" ? mine.to : ""; // where the transcript was emailed
    this.choice = this.rating; // what the thumbs show
    this.inFlight = 0; // chat.rate frames not answered yet
    this.rateError = "";
    this.asking = false; // a transcript.request is on its way
    this.transcriptError = "";
  }

  /** The visitor pressed a thumb, or sent the comment: the frame to send, or null (rateError says why). */
  rate(rating, text) {
    if (!RATINGS.includes(rating)) return null;
    const problem = commentProblem(text, this.maxChars);
    this.rateError = problem;
    if (problem) return null;
    this.choice = rating;
    this.inFlight += 1;
    return frames.chatRate(this.chat, rating, String(text).trim());
  }

  /** The frame did not go (offline), or its answer will never come (the socket closed). */
  unsent(message) {
    if (this.inFlight) {
      this.inFlight = 0;
      this.choice = this.rating;
      this.rateError = message;
    }
    if (this.asking) {
      this.asking = false;
      this.transcriptError = message;
    }
  }

  /** chat.rated: the server has it. False when it is about another chat. */
  rated(frame) {
    if (!frame || frame.chat !== this.chat || !RATINGS.includes(frame.rating)) return false;
    this.rating = frame.rating;
    this.comment = typeof frame.comment === "string" ? frame.comment : "";
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!this.inFlight) this.choice = this.rating; // a later choice still on its way keeps showing
    this.rateError = "";
    return true;
  }

  /** error with frame "chat.rate": the server's words, and what it has back on screen. */
  rateRefused(message) {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!this.inFlight) this.choice = this.rating;
    this.rateError = message || "Your rating could not be saved.";
  }

  /** The visitor asked for the transcript: the frame to send. */
  askTranscript() {
    this.asking = true;
    this.transcriptError = "";
    return frames.transcriptRequest(this.chat);
  }

  /** transcript.requested: the address it goes to. False when it is about another chat. */
  transcriptSent(frame) {
    if (!frame || frame.chat !== this.chat || typeof frame.to !== "string") return false;
    this.asking = false;
    this.to = frame.to;
    this.transcriptError = "";
    return true;
  }

  /** error with frame "transcript.request": no email, asked too often… in the server's words. */
  transcriptRefused(message) {
    this.asking = false;
    this.transcriptError = message || "The transcript could not be sent.";
  }

  get sending() {
    return this.inFlight > 0;
  }

  /** The line under the thumbs. */
  get status() {
    if (this.sending) return "Sending…";
    if (this.rating) return "Thanks for your feedback.";
    return "";
  }

  /** What to keep for a later visit: what the server answered, nothing pending. */
  saved() {
    return { chat: this.chat, rating: this.rating, comment: this.comment, to: this.to };
  }
}
