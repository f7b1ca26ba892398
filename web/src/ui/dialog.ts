/**
 * Accessible modal prompts built on <dialog> (focus trapping and Esc come from the browser).
 * Used instead of window.prompt/confirm so they match the app and can validate inline.
 */
import { h } from "./dom";

export interface PromptOptions {
  title: string;
  label: string;
  initial?: string;
  confirmLabel?: string;
  /** Returns an error message for invalid input, or null. */
  validate?: (value: string) => string | null;
}

/** Ask for a single line of text; resolves null when cancelled. */
export function promptText(options: PromptOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h("input", { type: "text", id: "dialog-input", autocomplete: "off", spellcheck: "false" });
    input.value = options.initial ?? "";
    const error = h("p", { class: "dialog-error", role: "alert" });
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", {}, options.title),
      h("label", { for: "dialog-input" }, options.label),
      input,
      error,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", value: "cancel", "data-action": "cancel" }, "Cancel"),
        h("button", { type: "submit", class: "btn primary", value: "ok" }, options.confirmLabel ?? "OK"),
      ),
    );
    const dialog = openDialog(form, () => resolve(null));
    form.querySelector('[data-action="cancel"]')!.addEventListener("click", () => close(null));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const problem = options.validate?.(input.value) ?? null;
      if (problem) {
        error.textContent = problem;
        input.focus();
        return;
      }
      close(input.value.trim());
    });
    function close(value: string | null): void {
      dialog.onclose = null;
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    input.focus();
    input.select();
  });
}

/** Ask a yes/no question; resolves true only on explicit confirmation. */
export function confirmAction(title: string, message: string, confirmLabel: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    const confirmButton = h("button", { type: "submit", class: danger ? "btn danger" : "btn primary" }, confirmLabel);
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", {}, title),
      h("p", {}, message),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", "data-action": "cancel" }, "Cancel"),
        confirmButton,
      ),
    );
    const dialog = openDialog(form, () => resolve(false));
    form.querySelector('[data-action="cancel"]')!.addEventListener("click", () => close(false));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      close(true);
    });
    function close(value: boolean): void {
      dialog.onclose = null;
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    confirmButton.focus();
  });
}

function openDialog(content: HTMLElement, onDismiss: () => void): HTMLDialogElement {
  const dialog = h("dialog", { class: "modal" }, content);
  dialog.onclose = () => {
    dialog.remove();
    onDismiss();
  };
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
