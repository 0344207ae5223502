// Who the chat's ticket is assigned to, in the Ticket tab: a <select> of the agents
// (`details.choices.agents`). Choosing one sends `chat.assign`: a waiting chat is assigned at once;
// my active chat is transferred once I confirm (I can no longer reply after it). Where I may not
// (another agent's active chat, an ended chat) the list is disabled and a note says why.

import * as frames from "../core/frames.js";
import { assignRights } from "../core/details.js";

const OFFLINE = "You're offline. Try again when the connection is back.";
const NOBODY = "";

export class Assignee {
  /**
   * @param {object} view  the chat view
   * @param {HTMLElement} root  the Ticket tab
   * @param {function(string): void} showError  the tab's error line
   */
  constructor(view, root, showError) {
    this.view = view;
    this.showError = showError;
    const q = (sel) => root.querySelector(sel);
    this.select = q("[data-role=assignee]");
    this.note = q("[data-role=assignee-note]");
    this.confirm = q("[data-role=transfer-confirm]");
    this.confirmText = q("[data-role=transfer-text]");
    this.yes = q("[data-role=transfer-yes]");
    this.no = q("[data-role=transfer-no]");
    this.select.id = `hd-assignee-${view.id}`;
    this.note.id = `${this.select.id}-note`;
    q("[data-role=assignee-label]").htmlFor = this.select.id;
    this.select.setAttribute("aria-describedby", this.note.id);
    this.chat = null;
    this.data = null;
    this.asking = null; // the agent {id, name} a transfer waits on my yes for

    this.select.addEventListener("change", () => this.chosen());
    this.yes.addEventListener("click", () => this.transfer());
    this.no.addEventListener("click", () => this.cancel());
  }

  update(chat) {
    this.chat = chat;
    if (this.data) this.render();
  }

  showDetails(details) {
    this.data = details;
    this.render();
  }

  get current() {
    return this.data?.ticket?.agent || null;
  }

  render() {
    const current = this.current;
    const agents = [...(this.data.choices?.agents || [])];
    if (current && !agents.some((a) => a.id === current.id)) agents.push(current);
    const options = [];
    if (!current) options.push(new Option("Nobody yet", NOBODY));
    const me = this.view.ctx.me().id;
    for (const agent of agents) options.push(new Option(agent.id === me ? `${agent.name} (me)` : agent.name, String(agent.id)));
    // Keep the agent's pending choice on screen while they confirm it.
    const shown = this.asking ? String(this.asking.id) : current ? String(current.id) : NOBODY;
    this.select.replaceChildren(...options);
    this.select.value = shown;
    if (!current && options[0]) options[0].disabled = true;

    const rights = assignRights(this.chat, me);
    this.select.disabled = !rights.can;
    this.note.hidden = rights.can;
    this.note.textContent = rights.reason;
    if (!rights.can) this.hideConfirm();
  }

  chosen() {
    const id = Number(this.select.value);
    const agent = (this.data?.choices?.agents || []).find((a) => a.id === id);
    if (!agent || agent.id === this.current?.id) {
      this.cancel();
      return;
    }
    this.showError("");
    if (assignRights(this.chat, this.view.ctx.me().id).transfer) {
      this.asking = agent;
      this.confirmText.textContent = `Transfer this chat to ${agent.name}? You will no longer be able to reply.`;
      this.confirm.hidden = false;
      this.yes.focus();
      return;
    }
    this.send(agent);
  }

  transfer() {
    const agent = this.asking;
    this.hideConfirm();
    if (agent) this.send(agent);
  }

  send(agent) {
    if (!this.view.ctx.send(frames.chatAssign(this.view.id, agent.id))) {
      this.showError(OFFLINE);
      this.render();
    }
    // The list shows the choice until the server's `details` answer says how it stands.
  }

  cancel() {
    this.hideConfirm();
    if (this.data) this.render();
    this.select.focus();
  }

  hideConfirm() {
    this.asking = null;
    this.confirm.hidden = true;
  }
}
