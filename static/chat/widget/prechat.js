// The form before a chat: name, email, department (when there is a choice) and the first message.
// Its checks give the server's messages for a quicker answer; the server checks again.

import { textProblem } from "../core/messages.js";

const MAX_NAME_CHARS = 100;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class Prechat {
  /**
   * @param {object} options
   * @param {number} options.maxChars
   * @param {function(object): void} options.onStart  {name, email, text, department}: start the chat
   */
  constructor({ maxChars, onStart }) {
    const $ = (id) => document.getElementById(id);
    this.form = $("hd-view-form");
    this.name = $("hd-name");
    this.email = $("hd-email");
    this.deptField = $("hd-department-field");
    this.dept = $("hd-department");
    this.first = $("hd-first");
    this.error = $("hd-form-error");
    this.departments = [];
    this.maxChars = maxChars;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const fields = this.check();
      if (!fields) return;
      onStart(fields);
      this.first.value = "";
    });
  }

  /** The departments offered (welcome); with one (or none) it is implied, and the server picks it. */
  setDepartments(departments) {
    this.departments = departments;
    const keep = this.dept.value;
    this.dept.replaceChildren(new Option("Choose…", ""));
    for (const department of departments) this.dept.append(new Option(department.name, String(department.id)));
    this.dept.value = keep;
    this.deptField.hidden = departments.length <= 1;
  }

  /** Name and email as the server knows them, where the visitor has not typed their own. */
  fill({ name, email }) {
    if (!this.name.value) this.name.value = name;
    if (!this.email.value) this.email.value = email;
  }

  /** A refused chat.start: its fields back in the form, and the reason. */
  restore(frame, message) {
    this.name.value = frame.name || this.name.value;
    this.email.value = frame.email || this.email.value;
    if (frame.department) this.dept.value = String(frame.department);
    this.first.value = frame.text || "";
    this.showError(message);
  }

  clearMessage() {
    this.first.value = "";
  }

  /** Where the visitor types next: their name, or the message once the name is there. */
  focus() {
    (this.name.value ? this.first : this.name).focus();
  }

  /** After an ended chat: straight to the message when name and email are known. */
  focusForNewChat() {
    (this.name.value && this.email.value ? this.first : this.name).focus();
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  /** The fields of a new chat, or null (and the first field in error focused). */
  check() {
    this.showError("");
    const name = this.name.value;
    const email = this.email.value.trim();
    const text = this.first.value;
    const needsDepartment = this.departments.length > 1;
    const checks = [
      setFieldError(this.name, nameProblem(name)),
      setFieldError(this.email, EMAIL_RE.test(email) ? "" : "Please give a valid email address, so that we can reply."),
      setFieldError(this.dept, needsDepartment && !this.dept.value ? "Please choose a department." : ""),
      setFieldError(this.first, textProblem(text, this.maxChars)),
    ];
    if (checks.includes(false)) {
      this.form.querySelector("[aria-invalid='true']").focus();
      return null;
    }
    return { name: name.trim(), email, text, department: needsDepartment ? Number(this.dept.value) : null };
  }
}

function nameProblem(name) {
  if (!name.trim()) return "Please tell us your name.";
  if (name.trim().length > MAX_NAME_CHARS) return `A name can be at most ${MAX_NAME_CHARS} characters long.`;
  return "";
}

function setFieldError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  error.textContent = message || "";
  error.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !message;
}
