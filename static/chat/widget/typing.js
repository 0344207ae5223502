// "Alex Agent is typing…" under the conversation (`agent.typing`), until their message comes, they
// stop, or no word came for a while. The line is a live region: its text is set only when it changes.

import { isolated } from "../core/messages.js";

const AGENT_TYPING_TTL_MS = 6000; // hide "is typing…" when no word came for this long

export class AgentTyping {
  constructor(el) {
    this.el = el;
    this.timer = null;
  }

  show(name) {
    const text = `${name} is typing…`;
    // Set the same text again and it would be read again.
    if (this.el.textContent !== text) this.el.replaceChildren(isolated(name), " is typing…");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), AGENT_TYPING_TTL_MS);
  }

  hide() {
    clearTimeout(this.timer);
    if (this.el.textContent) this.el.textContent = "";
  }
}
