/**
 * The editor pane: tabs of open files over one CodeMirror view.
 *
 * Each tab keeps its own EditorState (undo history, selection), the document as last known on
 * disk (`saved`) and that version's ETag, so "unsaved" is an exact comparison and every save
 * says which version it replaces (If-Match). No edit is lost without the learner choosing it:
 *
 * * re-activating the open tab (or clicking its tree row) keeps the live state;
 * * closing a tab with unsaved edits (or whose file was deleted) asks first;
 * * a save over a file that changed on disk is refused (409) and, like a change pushed by the
 *   watch while the tab has edits, shows the "changed on disk" banner: keep mine / take theirs /
 *   show diff;
 * * a change on disk to a tab without edits reloads it in place (cursor and scroll mapped);
 * * a file deleted on disk marks its tab "deleted"; saving recreates it.
 *
 * Disk checks and saves of one tab run one after another, so our own save's inotify echo is
 * recognised by its ETag rather than mistaken for someone else's change.
 * Ctrl/Cmd-S is bound inside CodeMirror only; the rest of the page keeps its keys.
 */
import { basicSetup } from "codemirror";
import { Compartment, EditorState, type Text } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { oneDark } from "@codemirror/theme-one-dark";
import { MergeView } from "@codemirror/merge";
import { FilesError, type FilesClient } from "../files/client";
import { affectedPaths } from "../files/watch";
import { confirmAction } from "../ui/dialog";
import { clear, h } from "../ui/dom";
import { icon } from "../ui/icons";
import { toast } from "../ui/toast";
import { languageFor } from "./languages";
import { decodeEditable, minimalChange } from "./text";

interface Conflict {
  theirs: Text;
  etag: string;
}

interface Tab {
  path: string;
  state: EditorState;
  /** The document as the file on disk was, at `etag`. */
  saved: Text;
  etag: string;
  deleted: boolean;
  conflict: Conflict | null;
  /** Disk checks and saves of this tab, one at a time. */
  queue: Promise<unknown>;
  /** The tab itself (role=tab); holds the name and a real close button. */
  button: HTMLElement;
}

export interface EditorPaneOptions {
  /** localStorage key for the open tabs (restored after a reload); none = not kept. */
  persistKey?: string;
  storage?: Pick<Storage, "getItem" | "setItem">;
}

export class EditorPane {
  private readonly tabs = new Map<string, Tab>();
  private active: Tab | null = null;
  private readonly tabBar: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly body: HTMLElement;
  private readonly placeholder: HTMLElement;
  private readonly view: EditorView;
  private readonly language = new Compartment();
  private restoring = false;

  constructor(
    host: HTMLElement,
    private readonly files: FilesClient,
    private readonly options: EditorPaneOptions = {},
  ) {
    this.tabBar = h("div", { class: "tabs", role: "tablist", "aria-label": "Open files" });
    this.placeholder = h(
      "div",
      { class: "editor-empty" },
      h("p", {}, "Open a file from the list on the left, or create one with “+ File”."),
      h("p", { class: "hint" }, "Save with Ctrl-S (⌘-S on a Mac)."),
    );
    this.banner = h("div", { class: "disk-banner", id: "disk-banner", role: "alert", hidden: true });
    this.body = h("div", { class: "editor-body", role: "tabpanel" });
    this.view = new EditorView({ parent: this.body, state: EditorState.create({ doc: "" }) });
    this.body.hidden = true;
    host.append(this.tabBar, this.banner, this.placeholder, this.body);
  }

  /** Open `path` in a tab (or switch to it if already open, keeping its edits). */
  async open(path: string, activate = true): Promise<boolean> {
    const existing = this.tabs.get(path);
    if (existing) {
      if (activate) this.activate(existing);
      return true;
    }
    let version;
    try {
      version = await this.files.readVersion(path);
    } catch (error) {
      if (!this.restoring) toast(`Couldn't open ${path}: ${(error as Error).message}`, "error");
      return false;
    }
    const decoded = decodeEditable(version.bytes);
    if (!decoded.ok) {
      if (!this.restoring) toast(`${path}: ${decoded.reason}`, "error");
      return false;
    }
    const opened = this.tabs.get(path);
    if (opened) {
      if (activate) this.activate(opened); // opened meanwhile
      return true;
    }
    const state = EditorState.create({
      doc: decoded.text,
      extensions: [
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (void this.save(), true) }]),
        basicSetup,
        oneDark,
        this.language.of(await languageFor(path)),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && this.active) this.renderTab(this.active);
        }),
        EditorView.contentAttributes.of({ "aria-label": `Editor: ${path}` }),
      ],
    });
    const button = h("div", { class: "tab", role: "tab", tabindex: "0", title: path });
    const tab: Tab = {
      path,
      state,
      saved: state.doc,
      etag: version.etag,
      deleted: false,
      conflict: null,
      queue: Promise.resolve(),
      button,
    };
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
    if (activate || !this.active) this.activate(tab);
    else this.renderTab(tab);
    this.persist();
    return true;
  }

  /** Reopen the tabs of the last visit (paths only), then the tab that was active. */
  async restore(): Promise<void> {
    const key = this.options.persistKey;
    const storage = this.options.storage ?? globalThis.localStorage;
    if (!key || !storage) return;
    let saved: { paths?: unknown; active?: unknown } = {};
    try {
      saved = JSON.parse(storage.getItem(key) ?? "{}") as typeof saved;
    } catch {
      return;
    }
    const paths = Array.isArray(saved.paths) ? saved.paths.filter((p): p is string => typeof p === "string") : [];
    this.restoring = true;
    try {
      for (const path of paths.slice(0, 20)) await this.open(path, false);
    } finally {
      this.restoring = false;
    }
    const active = typeof saved.active === "string" ? this.tabs.get(saved.active) : undefined;
    if (active) this.activate(active);
    this.persist();
  }

  /** Save the active tab. Resolves true when the file on the agent matches the editor. */
  async save(): Promise<boolean> {
    const tab = this.active;
    if (!tab) return false;
    const doc = this.view.state.doc; // snapshot: typing during the upload stays "unsaved"
    return this.enqueue(tab, () => this.write(tab, doc, tab.deleted ? { mustNotExist: true } : { ifMatch: tab.etag }));
  }

  hasUnsavedChanges(): boolean {
    return [...this.tabs.values()].some((tab) => this.isDirty(tab));
  }

  /** The watch reported `paths` changed on disk: check the open tabs they touch. */
  diskChanged(paths: string[]): void {
    for (const path of affectedPaths(this.tabs.keys(), paths)) {
      const tab = this.tabs.get(path);
      if (tab) void this.enqueue(tab, () => this.check(tab));
    }
  }

  /** Too many changes to list (or the watch reconnected): check every open tab. */
  resync(): void {
    for (const tab of this.tabs.values()) void this.enqueue(tab, () => this.check(tab));
  }

  /** Follow a rename in the file tree (a folder rename moves every tab under it). */
  renamed(from: string, to: string): void {
    for (const tab of [...this.tabs.values()]) {
      if (tab.path === from || tab.path.startsWith(`${from}/`)) {
        this.tabs.delete(tab.path);
        tab.path = to + tab.path.slice(from.length);
        tab.deleted = false;
        this.tabs.set(tab.path, tab);
        this.renderTab(tab);
      }
    }
    this.persist();
  }

  /** The learner deleted a file or folder from the tree (after confirming): close its tabs. */
  deleted(path: string): void {
    for (const tab of [...this.tabs.values()]) {
      if (tab.path === path || tab.path.startsWith(`${path}/`)) this.dropTab(tab);
    }
  }

  focus(): void {
    this.view.focus();
  }

  private activate(tab: Tab): void {
    if (this.active === tab) {
      this.view.focus(); // already showing its live state: nothing to reload or lose
      return;
    }
    if (this.active) this.active.state = this.view.state;
    this.active = tab;
    this.view.setState(tab.state);
    for (const t of this.tabs.values()) {
      t.button.setAttribute("aria-selected", String(t === tab));
      t.button.classList.toggle("active", t === tab);
    }
    this.renderTab(tab);
    this.placeholder.hidden = true;
    this.body.hidden = false;
    this.persist();
    this.view.focus();
  }

  private doc(tab: Tab): Text {
    return tab === this.active ? this.view.state.doc : tab.state.doc;
  }

  private isDirty(tab: Tab): boolean {
    return !this.doc(tab).eq(tab.saved);
  }

  private enqueue<T>(tab: Tab, job: () => Promise<T>): Promise<T> {
    const run = tab.queue.then(job, job);
    tab.queue = run.catch(() => undefined);
    return run;
  }

  private async write(
    tab: Tab,
    doc: Text,
    options: { ifMatch?: string; mustNotExist?: boolean },
    retry = true,
  ): Promise<boolean> {
    if (!this.tabs.has(tab.path)) return false;
    try {
      const entry = await this.files.write(tab.path, doc.toString(), options);
      tab.saved = doc;
      tab.etag = entry.etag ?? "";
      tab.deleted = false;
      tab.conflict = null;
    } catch (error) {
      if (error instanceof FilesError && error.status === 409 && ["changed_on_disk", "exists"].includes(error.code)) {
        await this.check(tab, true);
        if (!tab.conflict && !tab.deleted && retry) {
          return this.write(tab, doc, { ifMatch: tab.etag }, false); // only the version moved on
        }
        toast(`${tab.path} changed on disk since you opened it. Choose which version to keep.`, "error");
        this.renderTab(tab);
        return false;
      }
      toast(`Couldn't save ${tab.path}: ${(error as Error).message}`, "error");
      return false;
    }
    this.renderTab(tab);
    toast(`Saved ${tab.path}`);
    return true;
  }

  /** Compare the tab with the file on disk and follow it (or ask, when the tab has edits). */
  private async check(tab: Tab, afterRefusedSave = false): Promise<void> {
    if (!this.tabs.has(tab.path)) return;
    const path = tab.path;
    let etag = "";
    try {
      etag = (await this.files.stat(path)).etag ?? "";
      if (etag && etag === tab.etag && !tab.deleted && !afterRefusedSave) return;
      const version = await this.files.readVersion(path);
      etag = version.etag;
      const decoded = decodeEditable(version.bytes);
      if (!decoded.ok || tab.path !== path) return;
      const theirs = tab.state.toText(decoded.text);
      tab.deleted = false;
      if (theirs.eq(tab.saved) || theirs.eq(this.doc(tab))) {
        tab.saved = theirs;
        tab.etag = etag;
        tab.conflict = null;
      } else if (!this.isDirty(tab) && !tab.conflict) {
        this.reloadInPlace(tab, theirs, etag);
      } else {
        tab.conflict = { theirs, etag };
      }
    } catch (error) {
      if (error instanceof FilesError && error.status === 404 && tab.path === path) {
        tab.deleted = true;
        tab.conflict = null;
      } else return;
    }
    this.renderTab(tab);
  }

  /** Replace the document with the disk version, mapping the selection and keeping scroll. */
  private reloadInPlace(tab: Tab, theirs: Text, etag: string): void {
    const change = minimalChange(this.doc(tab).toString(), theirs.toString());
    tab.saved = theirs;
    tab.etag = etag;
    tab.conflict = null;
    if (!change) return;
    if (tab === this.active) {
      const { scrollTop, scrollLeft } = this.view.scrollDOM;
      this.view.dispatch({ changes: change });
      this.view.scrollDOM.scrollTop = scrollTop;
      this.view.scrollDOM.scrollLeft = scrollLeft;
    } else {
      tab.state = tab.state.update({ changes: change }).state;
    }
  }

  private async keepMine(tab: Tab): Promise<void> {
    const conflict = tab.conflict;
    if (!conflict) return;
    await this.enqueue(tab, () => this.write(tab, this.doc(tab), { ifMatch: conflict.etag }));
  }

  private takeTheirs(tab: Tab): void {
    const conflict = tab.conflict;
    if (!conflict) return;
    tab.conflict = null;
    this.reloadInPlace(tab, conflict.theirs, conflict.etag);
    this.renderTab(tab);
  }

  private showDiff(tab: Tab): void {
    const conflict = tab.conflict;
    if (!conflict) return;
    const host = h("div", { class: "merge-host", id: "conflict-diff" });
    const readOnly = [basicSetup, oneDark, EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const merge = new MergeView({
      a: { doc: this.doc(tab), extensions: readOnly },
      b: { doc: conflict.theirs, extensions: readOnly },
      parent: host,
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    const dialog = h("dialog", { class: "modal wide", "aria-label": `Differences in ${tab.path}` });
    const done = (choice?: () => void | Promise<void>) => {
      merge.destroy();
      dialog.close();
      dialog.remove();
      if (choice) void choice();
    };
    dialog.append(
      h("h2", {}, `${tab.path}: your version (left) and the one on disk (right)`),
      host,
      h(
        "div",
        { class: "dialog-actions" },
        this.button("Close", () => done()),
        this.button("Take theirs", () => done(() => this.takeTheirs(tab))),
        this.button("Keep mine", () => done(() => this.keepMine(tab)), "btn primary"),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  private async close(tab: Tab): Promise<void> {
    if (this.isDirty(tab) || tab.deleted) {
      const why = tab.deleted ? `${tab.path} was deleted on disk; its text is only in this tab.` : `${tab.path} has unsaved changes.`;
      const ok = await confirmAction("Close without saving?", why, "Discard changes", true);
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
        this.renderBanner();
      }
    }
    this.persist();
  }

  private persist(): void {
    const key = this.options.persistKey;
    const storage = this.options.storage ?? globalThis.localStorage;
    if (!key || !storage || this.restoring) return;
    try {
      storage.setItem(key, JSON.stringify({ paths: [...this.tabs.keys()], active: this.active?.path ?? null }));
    } catch {
      /* storage full or disabled: tabs are just not restored */
    }
  }

  private renderTab(tab: Tab): void {
    const dirty = this.isDirty(tab);
    const name = tab.path.slice(tab.path.lastIndexOf("/") + 1);
    clear(tab.button);
    tab.button.title = tab.deleted ? `${tab.path} (deleted on disk)` : tab.path;
    tab.button.dataset.path = tab.path;
    tab.button.dataset.dirty = String(dirty);
    tab.button.dataset.deleted = String(tab.deleted);
    tab.button.dataset.conflict = String(tab.conflict !== null);
    tab.button.classList.toggle("deleted", tab.deleted);
    tab.button.append(h("span", { class: "tab-name" }, name));
    if (dirty) {
      tab.button.append(h("span", { class: "dirty-dot", "aria-label": "unsaved changes", title: "Unsaved changes" }));
    }
    tab.button.append(this.closeButton(tab));
    if (tab === this.active) this.renderBanner();
  }

  private renderBanner(): void {
    const tab = this.active;
    clear(this.banner);
    this.banner.hidden = !tab || (!tab.deleted && !tab.conflict);
    if (!tab || this.banner.hidden) return;
    if (tab.conflict) {
      this.banner.dataset.kind = "conflict";
      this.banner.append(
        h("span", { class: "banner-text" }, `${tab.path} changed on disk while you were editing it.`),
        this.button("Keep mine", () => void this.keepMine(tab), "btn small primary"),
        this.button("Take theirs", () => this.takeTheirs(tab)),
        this.button("Show diff", () => this.showDiff(tab)),
      );
    } else {
      this.banner.dataset.kind = "deleted";
      this.banner.append(
        h("span", { class: "banner-text" }, `${tab.path} was deleted on disk. Save (Ctrl-S) to create it again, or close the tab.`),
      );
    }
  }

  private button(label: string, onClick: () => void, cls = "btn small"): HTMLElement {
    const button = h("button", { type: "button", class: cls }, label);
    button.addEventListener("click", onClick);
    return button;
  }

  private closeButton(tab: Tab): HTMLElement {
    const close = h("button", { type: "button", class: "tab-close", "aria-label": `Close ${tab.path}` }, icon("close"));
    close.addEventListener("click", (event) => {
      event.stopPropagation();
      void this.close(tab);
    });
    return close;
  }
}
