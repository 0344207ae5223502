// The pane beside the conversation: details of the chat, one tab each (WAI-ARIA tabs: arrow keys
// move between them). To add a tab: a button with data-side-tab="x" in the pane's tablist and a
// section with data-side-panel="x" in the panel template (console.html); its content is a part of
// its own (pages.js is one), which may call view.pane.show("x"). A new chat's pane opens on the tab
// the agent chose last (in this page), the first one before any choice.

let chosen = null; // the tab the agent picked last, in any chat

export class Pane {
  constructor(view) {
    this.view = view;
    this.el = view.el.querySelector("[data-role=side]");
    this.tabs = [...view.el.querySelectorAll("[data-side-tab]")];
    for (const tab of this.tabs) {
      const name = tab.dataset.sideTab;
      const section = this.section(name);
      tab.id = `hd-side-${view.id}-${name}`;
      section.id = `${tab.id}-panel`;
      tab.setAttribute("aria-controls", section.id);
      section.setAttribute("aria-labelledby", tab.id);
      tab.addEventListener("click", () => this.choose(name));
      tab.addEventListener("keydown", (event) => this.onKey(event));
    }
    const first = this.tabs.find((tab) => tab.dataset.sideTab === chosen) || this.tabs[0];
    if (first) this.show(first.dataset.sideTab);
  }

  /** The agent picked this tab: show it, here and first in chats opened after. */
  choose(name, options) {
    chosen = name;
    this.show(name, options);
  }

  section(name) {
    return this.view.el.querySelector(`[data-side-panel="${name}"]`);
  }

  /** Show tab `name`; `focus`: move the keyboard to it too. */
  show(name, { focus = false } = {}) {
    for (const tab of this.tabs) {
      const selected = tab.dataset.sideTab === name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      this.section(tab.dataset.sideTab).hidden = !selected;
      if (selected && focus) tab.focus();
    }
  }

  onKey(event) {
    const moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const index = this.tabs.indexOf(event.currentTarget);
    const next = this.tabs[(index + moves[event.key] + this.tabs.length) % this.tabs.length];
    this.choose(next.dataset.sideTab);
    next.focus();
  }
}
