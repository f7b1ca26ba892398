/**
 * The "Changes" view: files changed since the learner last looked (or since the seat's files
 * were first set up), each with a side-by-side diff (CodeMirror merge view). Reviewing what
 * Claude did is a habit the workshop teaches. Names and contents are text only.
 */
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { oneDark } from "@codemirror/theme-one-dark";
import { MergeView } from "@codemirror/merge";
import { FilesError, type ChangeList, type FilesClient } from "../files/client";
import { clear, h } from "../ui/dom";
import { toast } from "../ui/toast";
import { decodeEditable } from "./text";

const STATUS_LABEL = { added: "new", modified: "changed", deleted: "deleted" } as const;

export async function showChanges(files: FilesClient, open: (path: string) => void): Promise<void> {
  let list: ChangeList;
  try {
    list = await files.changes();
  } catch (error) {
    toast(`Couldn't list changes: ${(error as Error).message}`, "error");
    return;
  }
  const items = h("ul", { class: "changes-list", "aria-label": "Changed files" });
  const diff = h("div", { class: "merge-host changes-diff", id: "changes-diff" });
  const since = list.since ? new Date(list.since * 1000).toLocaleString() : "the start";
  let merge: MergeView | null = null;
  const dialog = h("dialog", { class: "modal wide", id: "changes-dialog", "aria-label": "Changes" });
  const close = () => {
    merge?.destroy();
    dialog.close();
  };
  const reviewed = h("button", { type: "button", class: "btn primary" }, "Mark all as reviewed");
  reviewed.addEventListener("click", async () => {
    try {
      await files.markReviewed();
    } catch (error) {
      toast(`Couldn't mark as reviewed: ${(error as Error).message}`, "error");
      return;
    }
    toast("Changes marked as reviewed");
    close();
  });
  const closeButton = h("button", { type: "button", class: "btn" }, "Close");
  closeButton.addEventListener("click", close);
  dialog.append(
    h("h2", {}, `Changes since ${since}`),
    h("div", { class: "changes-body" }, items, diff),
    h("div", { class: "dialog-actions" }, closeButton, reviewed),
  );
  dialog.addEventListener("close", () => {
    merge?.destroy();
    dialog.remove();
  });

  async function select(path: string, status: keyof typeof STATUS_LABEL, button: HTMLElement): Promise<void> {
    for (const b of items.querySelectorAll("button.change")) b.setAttribute("aria-current", "false");
    button.setAttribute("aria-current", "true");
    merge?.destroy();
    merge = null;
    clear(diff);
    let before: Uint8Array | null;
    let after: Uint8Array | null = null;
    try {
      before = await files.original(path);
      if (status !== "deleted") after = await files.read(path);
    } catch (error) {
      if (!(error instanceof FilesError && error.status === 404)) {
        diff.append(h("p", { class: "changes-note" }, `Couldn't load ${path}: ${(error as Error).message}`));
        return;
      }
      before = null;
    }
    const a = decodeEditable(before ?? new Uint8Array());
    const b = decodeEditable(after ?? new Uint8Array());
    if (!a.ok || !b.ok) {
      diff.append(h("p", { class: "changes-note" }, `${path} is not text that can be compared here.`));
      return;
    }
    const readOnly = [basicSetup, oneDark, EditorState.readOnly.of(true), EditorView.editable.of(false)];
    diff.append(h("p", { class: "changes-note" }, `${path}: before (left), now (right)`));
    merge = new MergeView({ a: { doc: a.text, extensions: readOnly }, b: { doc: b.text, extensions: readOnly }, parent: diff });
  }

  if (!list.files.length) {
    items.append(h("li", { class: "changes-empty" }, "No files changed since then."));
  }
  for (const change of list.files) {
    const button = h(
      "button",
      { type: "button", class: "change", "data-path": change.path, "data-status": change.status },
      h("span", { class: `change-status ${change.status}` }, STATUS_LABEL[change.status]),
      h("span", { class: "change-path" }, change.path),
    );
    button.addEventListener("click", () => void select(change.path, change.status, button));
    button.addEventListener("dblclick", () => {
      if (change.status !== "deleted") {
        close();
        open(change.path);
      }
    });
    items.append(h("li", {}, button));
  }
  document.body.append(dialog);
  dialog.showModal();
  const first = items.querySelector<HTMLButtonElement>("button.change");
  if (first) first.click();
}
