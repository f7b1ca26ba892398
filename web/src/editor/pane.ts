/**
 * The editor pane: tabs of open files over one CodeMirror view.
 *
 * Each tab keeps its own EditorState (undo history, selection) and the document as last
 * saved, so "unsaved" is an exact comparison rather than a guess. Ctrl/Cmd-S is bound inside
 * CodeMirror only; the rest of the page (the terminal above all) keeps its keys.
 */
import { basicSetup } from "codemirror";
import { Compartment, EditorState, type Text } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { oneDark } from "@codemirror/theme-one-dark";
import type { FilesClient } from "../files/client";
import { confirmAction } from "../ui/dialog";
import { clear, h } from "../ui/dom";
import { toast } from "../ui/toast";
import { languageFor } from "./languages";
import { decodeEditable } from "./text";

interface Tab {
  path: string;
  state: EditorState;
  saved: Text;
  /** The tab itself (role=tab); holds the name and a real close button. */
  button: HTMLElement;
}

export class EditorPane {
  private readonly tabs = new Map<string, Tab>();
  private active: Tab | null = null;
  private readonly tabBar: HTMLElement;
  private readonly body: HTMLElement;
  private readonly placeholder: HTMLElement;
  private readonly view: EditorView;
  private readonly language = new Compartment();

  constructor(
    host: HTMLElement,
    private readonly files: FilesClient,
  ) {
    this.tabBar = h("div", { class: "tabs", role: "tablist", "aria-label": "Open files" });
    this.placeholder = h(
      "div",
      { class: "editor-empty" },
      h("p", {}, "Open a file from the list on the left, or create one with “New file”."),
      h("p", { class: "hint" }, "Save with Ctrl-S (⌘-S on a Mac)."),
    );
    this.body = h("div", { class: "editor-body", role: "tabpanel" });
    this.view = new EditorView({ parent: this.body, state: EditorState.create({ doc: "" }) });
    this.body.hidden = true;
    host.append(this.tabBar, this.placeholder, this.body);
  }

  /** Open `path` in a tab (or switch to it if already open). */
  async open(path: string): Promise<void> {
    const existing = this.tabs.get(path);
    if (existing) {
      this.activate(existing);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.files.read(path);
    } catch (error) {
      toast(`Couldn't open ${path}: ${(error as Error).message}`, "error");
      return;
    }
    const decoded = decodeEditable(bytes);
    if (!decoded.ok) {
      toast(`${path}: ${decoded.reason}`, "error");
      return;
    }
    if (this.tabs.has(path)) return this.activate(this.tabs.get(path)!); // opened meanwhile
    const state = EditorState.create({
      doc: decoded.text,
      extensions: [
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (void this.save(), true) }]),
        basicSetup,
        oneDark,
        this.language.of(await languageFor(path)),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && this.active) this.renderTab(this.active, update.state.doc);
        }),
        EditorView.contentAttributes.of({ "aria-label": `Editor: ${path}` }),
      ],
    });
    const button = h("div", { class: "tab", role: "tab", tabindex: "0", title: path });
    const tab: Tab = { path, state, saved: state.doc, button };
    button.addEventListener("click", () => this.activate(tab));
    button.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.activate(tab);
      }
    });
    button.addEventListener("auxclick", (event) => {
      if (event.button === 1) void this.close(tab);
    });
    this.tabs.set(path, tab);
    this.tabBar.append(button);
    this.activate(tab);
  }

  /** Save the active tab. Resolves true when the file on the agent matches the editor. */
  async save(): Promise<boolean> {
    const tab = this.active;
    if (!tab) return false;
    const doc = this.view.state.doc; // snapshot: typing during the upload stays "unsaved"
    try {
      await this.files.write(tab.path, doc.toString());
    } catch (error) {
      toast(`Couldn't save ${tab.path}: ${(error as Error).message}`, "error");
      return false;
    }
    tab.saved = doc;
    this.renderTab(tab, tab === this.active ? this.view.state.doc : tab.state.doc);
    toast(`Saved ${tab.path}`);
    return true;
  }

  hasUnsavedChanges(): boolean {
    if (this.active) this.active.state = this.view.state;
    return [...this.tabs.values()].some((tab) => !tab.state.doc.eq(tab.saved));
  }

  /** Follow a rename in the file tree (a folder rename moves every tab under it). */
  renamed(from: string, to: string): void {
    for (const tab of [...this.tabs.values()]) {
      if (tab.path === from || tab.path.startsWith(`${from}/`)) {
        this.tabs.delete(tab.path);
        tab.path = to + tab.path.slice(from.length);
        this.tabs.set(tab.path, tab);
        this.renderTab(tab, tab === this.active ? this.view.state.doc : tab.state.doc);
      }
    }
  }

  /** Close tabs for a deleted file or folder, without asking (the file is gone). */
  deleted(path: string): void {
    for (const tab of [...this.tabs.values()]) {
      if (tab.path === path || tab.path.startsWith(`${path}/`)) this.dropTab(tab);
    }
  }

  focus(): void {
    this.view.focus();
  }

  private activate(tab: Tab): void {
    if (this.active && this.active !== tab) this.active.state = this.view.state;
    this.active = tab;
    this.view.setState(tab.state);
    for (const t of this.tabs.values()) {
      t.button.setAttribute("aria-selected", String(t === tab));
      t.button.classList.toggle("active", t === tab);
    }
    this.renderTab(tab, tab.state.doc);
    this.placeholder.hidden = true;
    this.body.hidden = false;
    this.view.focus();
  }

  private async close(tab: Tab): Promise<void> {
    const doc = tab === this.active ? this.view.state.doc : tab.state.doc;
    if (!doc.eq(tab.saved)) {
      const ok = await confirmAction("Close without saving?", `${tab.path} has unsaved changes.`, "Discard changes", true);
      if (!ok) return;
    }
    this.dropTab(tab);
  }

  private dropTab(tab: Tab): void {
    this.tabs.delete(tab.path);
    tab.button.remove();
    if (this.active === tab) {
      this.active = null;
      const next = [...this.tabs.values()].at(-1);
      if (next) this.activate(next);
      else {
        this.view.setState(EditorState.create({ doc: "" }));
        this.body.hidden = true;
        this.placeholder.hidden = false;
      }
    }
  }

  private renderTab(tab: Tab, doc: Text): void {
    const dirty = !doc.eq(tab.saved);
    const name = tab.path.slice(tab.path.lastIndexOf("/") + 1);
    clear(tab.button);
    tab.button.title = tab.path;
    tab.button.dataset.path = tab.path;
    tab.button.dataset.dirty = String(dirty);
    tab.button.append(h("span", { class: "tab-name" }, name));
    if (dirty) {
      tab.button.append(h("span", { class: "dirty-dot", "aria-label": "unsaved changes", title: "Unsaved changes" }, "●"));
    }
    tab.button.append(this.closeButton(tab));
  }

  private closeButton(tab: Tab): HTMLElement {
    const close = h("button", { type: "button", class: "tab-close", "aria-label": `Close ${tab.path}` }, "×");
    close.addEventListener("click", (event) => {
      event.stopPropagation();
      void this.close(tab);
    });
    return close;
  }
}
