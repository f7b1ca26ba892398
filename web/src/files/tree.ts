/**
 * The file tree: browse the seat workspace, open files, create/rename/delete, upload by
 * drag-and-drop or the Upload button.
 *
 * Directories load lazily when expanded; after any change the expanded part of the tree is
 * re-listed (workshop workspaces are small, and re-listing keeps the tree honest when the
 * learner also changes files from the terminal).
 */
import { confirmAction, promptText } from "../ui/dialog";
import { clear, h } from "../ui/dom";
import { icon, type IconName } from "../ui/icons";
import { toast } from "../ui/toast";
import { type FileEntry, FilesClient, joinPath, parentPath, validName } from "./client";
import { treeAffected } from "./watch";

export interface TreeEvents {
  open(path: string): void;
  renamed(from: string, to: string): void;
  deleted(path: string): void;
}

export class FileTree {
  private readonly expanded = new Set<string>();
  private selected: FileEntry | null = null;
  private readonly list: HTMLElement;
  private readonly uploadInput: HTMLInputElement;
  private renderGeneration = 0;
  /** Row to focus once the tree is re-rendered (keyboard expand/collapse). */
  private focusAfterRefresh: string | null = null;

  constructor(
    host: HTMLElement,
    private readonly files: FilesClient,
    private readonly events: TreeEvents,
  ) {
    this.uploadInput = h("input", { type: "file", multiple: true, hidden: true, "aria-label": "Upload files" });
    this.uploadInput.addEventListener("change", () => {
      const chosen = [...(this.uploadInput.files ?? [])];
      this.uploadInput.value = "";
      if (chosen.length) void this.upload(this.targetDir(), chosen);
    });
    const toolbar = h(
      "div",
      { class: "tree-toolbar", role: "toolbar", "aria-label": "File actions" },
      this.toolButton("New file", "+ File", () => void this.createFile()),
      this.toolButton("New folder", "+ Folder", () => void this.createFolder()),
      this.toolButton("Upload files", "", () => this.uploadInput.click(), "upload"),
      this.toolButton("Refresh file list", "", () => void this.refresh(), "refresh"),
    );
    this.list = h("ul", { class: "tree", role: "tree", "aria-label": "Workspace files" });
    this.list.addEventListener("keydown", (event) => this.navigate(event));
    const dropHint = h("p", { class: "drop-hint" }, "Drop files here to upload");
    host.append(h("h2", { class: "pane-title" }, "Files"), toolbar, this.list, dropHint, this.uploadInput);
    this.enableDrop(host);
  }

  /** The watch reported changes: re-list if any is in the root or an expanded folder.
   * Bursts arrive already coalesced by the agent; one re-list runs at a time, plus one queued. */
  /** The agent watches only part of a very large workspace: say so once, near the tree. */
  limited(): void {
    if (this.list.parentElement?.querySelector(".tree-note")) return;
    const note = h("p", { class: "tree-note", role: "status" }, "This workspace is large: some folders update only when you press Refresh.");
    this.list.before(note);
  }

  changed(paths: string[]): void {
    if (treeAffected(this.expanded, paths)) this.scheduleRefresh();
  }

  private refreshing: Promise<void> | null = null;
  private refreshQueued = false;

  scheduleRefresh(): void {
    if (this.refreshing) {
      this.refreshQueued = true;
      return;
    }
    this.refreshing = this.refresh().finally(() => {
      this.refreshing = null;
      if (this.refreshQueued) {
        this.refreshQueued = false;
        this.scheduleRefresh();
      }
    });
  }

  /** Re-list the root and every expanded folder. */
  async refresh(): Promise<void> {
    const generation = ++this.renderGeneration;
    const fresh = h("ul", { class: "tree", role: "tree", "aria-label": "Workspace files" });
    try {
      await this.renderDir(fresh, "", 1);
    } catch (error) {
      toast(`Couldn't list files: ${(error as Error).message}`, "error");
      return;
    }
    if (generation !== this.renderGeneration) return; // a newer refresh won
    const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>("[role=treeitem]");
    if (focused && this.list.contains(focused) && this.focusAfterRefresh === null) {
      this.focusAfterRefresh = focused.dataset.path ?? null; // a live update keeps keyboard focus
    }
    clear(this.list);
    this.list.append(...fresh.childNodes);
    if (!this.list.childElementCount) {
      this.list.append(h("li", { class: "tree-empty" }, "Your workspace is empty."));
    }
    if (this.focusAfterRefresh !== null) {
      const path = this.focusAfterRefresh;
      this.focusAfterRefresh = null;
      [...this.list.querySelectorAll<HTMLElement>("[role=treeitem]")]
        .find((el) => el.dataset.path === path)
        ?.querySelector<HTMLButtonElement>(".tree-label")
        ?.focus();
    }
  }

  private async renderDir(into: HTMLElement, dir: string, level: number): Promise<void> {
    const entries = await this.files.list(dir);
    for (const entry of entries) {
      const item = this.row(entry, level);
      into.append(item);
      if (entry.type === "dir" && this.expanded.has(entry.path)) {
        const group = h("ul", { role: "group" });
        item.append(group);
        await this.renderDir(group, entry.path, level + 1);
      }
    }
  }

  private row(entry: FileEntry, level: number): HTMLElement {
    const isDir = entry.type === "dir";
    const label = h(
      "button",
      { type: "button", class: "tree-label", style: `padding-left: ${0.5 + (level - 1) * 0.9}rem` },
      h(
        "span",
        { class: "tree-icon", "aria-hidden": "true" },
        icon(isDir ? (this.expanded.has(entry.path) ? "chevronDown" : "chevronRight") : "file"),
      ),
      h("span", { class: "tree-name" }, entry.name),
    );
    const actions = h(
      "span",
      { class: "tree-actions" },
      this.iconButton(`Rename ${entry.path}`, "pencil", () => void this.rename(entry)),
      this.iconButton(`Delete ${entry.path}`, "trash", () => void this.remove(entry)),
    );
    const item = h(
      "li",
      {
        role: "treeitem",
        "aria-level": level,
        "aria-expanded": isDir ? String(this.expanded.has(entry.path)) : undefined,
        "aria-selected": String(this.selected?.path === entry.path),
        "data-path": entry.path,
        "data-type": entry.type,
        class: this.selected?.path === entry.path ? "selected" : undefined,
      },
      h("div", { class: "tree-row" }, label, actions),
    );
    label.addEventListener("click", () => {
      this.select(entry, item);
      if (isDir) {
        if (this.expanded.has(entry.path)) this.expanded.delete(entry.path);
        else this.expanded.add(entry.path);
        void this.refresh();
      } else {
        this.events.open(entry.path);
      }
    });
    if (isDir) this.markDropTarget(item, entry.path);
    return item;
  }

  /** Arrow keys move between rows; Right/Left open/close folders (the ARIA tree pattern). */
  private navigate(event: KeyboardEvent): void {
    const labels = [...this.list.querySelectorAll<HTMLButtonElement>(".tree-label")];
    const current = labels.indexOf(document.activeElement as HTMLButtonElement);
    if (current < 0) return;
    const item = labels[current]!.closest<HTMLElement>("[role=treeitem]")!;
    const expanded = item.getAttribute("aria-expanded");
    if (event.key === "ArrowDown") labels[Math.min(labels.length - 1, current + 1)]!.focus();
    else if (event.key === "ArrowUp") labels[Math.max(0, current - 1)]!.focus();
    else if (event.key === "Home") labels[0]!.focus();
    else if (event.key === "End") labels.at(-1)!.focus();
    else if ((event.key === "ArrowRight" && expanded === "false") || (event.key === "ArrowLeft" && expanded === "true")) {
      labels[current]!.click();
      this.focusAfterRefresh = item.dataset.path ?? null;
    } else return;
    event.preventDefault();
  }

  private select(entry: FileEntry, item: HTMLElement): void {
    this.selected = entry;
    for (const el of this.list.querySelectorAll("[role=treeitem].selected")) {
      el.classList.remove("selected");
      el.setAttribute("aria-selected", "false");
    }
    item.classList.add("selected");
    item.setAttribute("aria-selected", "true");
  }

  /** New items go into the selected folder, or beside the selected file, else the root. */
  private targetDir(): string {
    if (!this.selected) return "";
    return this.selected.type === "dir" ? this.selected.path : parentPath(this.selected.path);
  }

  private async createFile(): Promise<void> {
    const dir = this.targetDir();
    const name = await promptText({
      title: "New file",
      label: dir ? `File name (in ${dir}/)` : "File name",
      confirmLabel: "Create",
      validate: validName,
    });
    if (!name) return;
    const path = joinPath(dir, name);
    try {
      await this.files.write(path, "", { mustNotExist: true }); // never truncate an existing file
    } catch (error) {
      toast(`Couldn't create ${path}: ${(error as Error).message}`, "error");
      return;
    }
    if (dir) this.expanded.add(dir);
    await this.refresh();
    this.events.open(path);
  }

  private async createFolder(): Promise<void> {
    const dir = this.targetDir();
    const name = await promptText({
      title: "New folder",
      label: dir ? `Folder name (in ${dir}/)` : "Folder name",
      confirmLabel: "Create",
      validate: validName,
    });
    if (!name) return;
    const path = joinPath(dir, name);
    try {
      await this.files.mkdir(path);
    } catch (error) {
      toast(`Couldn't create ${path}: ${(error as Error).message}`, "error");
      return;
    }
    if (dir) this.expanded.add(dir);
    this.expanded.add(path);
    await this.refresh();
  }

  private async rename(entry: FileEntry): Promise<void> {
    const name = await promptText({
      title: `Rename ${entry.name}`,
      label: "New name",
      initial: entry.name,
      confirmLabel: "Rename",
      validate: validName,
    });
    if (!name || name === entry.name) return;
    const to = joinPath(parentPath(entry.path), name);
    try {
      await this.files.rename(entry.path, to);
    } catch (error) {
      toast(`Couldn't rename ${entry.path}: ${(error as Error).message}`, "error");
      return;
    }
    if (this.expanded.delete(entry.path)) this.expanded.add(to);
    this.events.renamed(entry.path, to);
    await this.refresh();
  }

  private async remove(entry: FileEntry): Promise<void> {
    const isDir = entry.type === "dir";
    const ok = await confirmAction(
      `Delete ${entry.name}?`,
      isDir ? `The folder ${entry.path} and everything in it will be deleted.` : `${entry.path} will be deleted.`,
      "Delete",
      true,
    );
    if (!ok) return;
    try {
      await this.files.remove(entry.path, isDir);
    } catch (error) {
      toast(`Couldn't delete ${entry.path}: ${(error as Error).message}`, "error");
      return;
    }
    if (this.selected?.path === entry.path) this.selected = null;
    this.expanded.delete(entry.path);
    this.events.deleted(entry.path);
    await this.refresh();
  }

  private async upload(dir: string, chosen: File[]): Promise<void> {
    try {
      const stored = await this.files.upload(dir, chosen);
      toast(`Uploaded ${stored.length} file${stored.length === 1 ? "" : "s"}${dir ? ` to ${dir}` : ""}`);
    } catch (error) {
      toast(`Upload failed: ${(error as Error).message}`, "error");
      return;
    }
    if (dir) this.expanded.add(dir);
    await this.refresh();
  }

  /** The whole pane accepts drops (into the root or selected folder); folder rows into themselves. */
  private enableDrop(zone: HTMLElement): void {
    zone.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget as Node | null)) zone.classList.remove("dropping");
    });
    zone.addEventListener("drop", (event) => {
      zone.classList.remove("dropping");
      const dropped = [...(event.dataTransfer?.files ?? [])];
      if (!dropped.length) return;
      event.preventDefault();
      const folder = (event.target as HTMLElement).closest<HTMLElement>("[data-type=dir]");
      void this.upload(folder?.dataset.path ?? this.targetDir(), dropped);
    });
  }

  private markDropTarget(item: HTMLElement, path: string): void {
    item.addEventListener("dragenter", () => item.classList.add("drop-target"));
    item.addEventListener("dragleave", (event) => {
      if (!item.contains(event.relatedTarget as Node | null)) item.classList.remove("drop-target");
    });
    item.addEventListener("drop", () => {
      item.classList.remove("drop-target");
      this.expanded.add(path);
    });
  }

  private toolButton(label: string, text: string, onClick: () => void, glyph?: IconName): HTMLElement {
    const button = h(
      "button",
      { type: "button", class: "btn small", "aria-label": label, title: label },
      glyph ? icon(glyph) : null,
      text ? h("span", {}, text) : null,
    );
    button.addEventListener("click", onClick);
    return button;
  }

  private iconButton(label: string, glyph: IconName, onClick: () => void): HTMLElement {
    const button = h("button", { type: "button", class: "icon-btn", "aria-label": label, title: label }, icon(glyph));
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      onClick();
    });
    return button;
  }
}
