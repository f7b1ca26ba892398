/**
 * The workspace agent's files API for one seat (docs/protocol.md §3, "Files").
 *
 * Paths are always relative to the seat workspace and always travel in the `path` query
 * parameter (or the rename body). The token goes in the Authorization header only. A 401 is
 * answered once by refreshing the token (re-join) and retrying.
 */

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink";
  size: number;
  mtime: number;
  /** Strong validator of this version (inode, size, mtime); "" from older agents. */
  etag?: string;
}

/** A file's bytes and the version they are (send it back as `ifMatch` when saving). */
export interface FileContent {
  bytes: Uint8Array;
  etag: string;
}

/** Save preconditions: `ifMatch` = the version the editor started from; `mustNotExist` = create only. */
export interface WriteOptions {
  ifMatch?: string;
  mustNotExist?: boolean;
}

export interface ChangeList {
  since: number;
  files: { path: string; status: "added" | "modified" | "deleted" }[];
}

export class FilesError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "FilesError";
  }
}

export interface FilesAuth {
  readonly session: { endpoint: string; seat: number };
  token(): Promise<string>;
  refresh(): Promise<unknown>;
}

export class FilesClient {
  /** Set when the workshop has ended: errors say so instead of blaming the network. */
  endedMessage = "";

  constructor(
    private readonly auth: FilesAuth,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  async list(dir: string): Promise<FileEntry[]> {
    const response = await this.request("GET", "files", { path: dir });
    const body = (await response.json()) as { entries?: FileEntry[] };
    return sortEntries(body.entries ?? []);
  }

  /** File contents as bytes (the editor decides whether they are text). */
  async read(path: string): Promise<Uint8Array> {
    return (await this.readVersion(path)).bytes;
  }

  /** File contents and their ETag. */
  async readVersion(path: string): Promise<FileContent> {
    const response = await this.request("GET", "files/content", { path });
    const etag = response.headers.get("ETag") ?? "";
    return { bytes: new Uint8Array(await response.arrayBuffer()), etag };
  }

  async stat(path: string): Promise<FileEntry> {
    return (await (await this.request("GET", "files/stat", { path })).json()) as FileEntry;
  }

  /** Write a file. With `ifMatch`, a file changed on disk meanwhile fails with a 409 `FilesError`. */
  async write(path: string, content: string | Uint8Array, options: WriteOptions = {}): Promise<FileEntry> {
    const body: BodyInit = typeof content === "string" ? content : new Blob([content as BlobPart]);
    const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
    if (options.mustNotExist) headers["If-None-Match"] = "*";
    else if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    const response = await this.request("PUT", "files/content", { path }, body, headers);
    return (await response.json()) as FileEntry;
  }

  async mkdir(path: string): Promise<FileEntry> {
    return (await (await this.request("POST", "files/mkdir", { path })).json()) as FileEntry;
  }

  async rename(from: string, to: string): Promise<FileEntry> {
    const response = await this.request("POST", "files/rename", {}, JSON.stringify({ from, to, overwrite: false }), {
      "Content-Type": "application/json",
    });
    return (await response.json()) as FileEntry;
  }

  async remove(path: string, recursive: boolean): Promise<void> {
    await this.request("DELETE", "files", recursive ? { path, recursive: "1" } : { path });
  }

  /** Multipart upload of `files` into directory `dir`. */
  async upload(dir: string, files: File[]): Promise<FileEntry[]> {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const response = await this.request("POST", "files/upload", { path: dir }, form);
    return ((await response.json()) as { entries?: FileEntry[] }).entries ?? [];
  }

  /** Files changed since the learner last marked the changes as reviewed (the "Changes" view). */
  async changes(): Promise<ChangeList> {
    return (await (await this.request("GET", "changes", {})).json()) as ChangeList;
  }

  /** The reviewed (earlier) version of `path`, or null when none was kept (a new file). */
  async original(path: string): Promise<Uint8Array | null> {
    try {
      const response = await this.request("GET", "changes/original", { path });
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (error instanceof FilesError && error.status === 404) return null;
      throw error;
    }
  }

  async markReviewed(): Promise<void> {
    await this.request("POST", "changes/reviewed", {});
  }

  /** The whole workspace as a zip. */
  async archive(): Promise<Blob> {
    return (await this.request("GET", "archive.zip", {})).blob();
  }

  private async request(
    method: string,
    resource: string,
    query: Record<string, string>,
    body?: BodyInit,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const send = async (): Promise<Response> => {
      const { endpoint, seat } = this.auth.session;
      const url = new URL(`${endpoint}/seats/${seat}/${resource}`);
      for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
      const token = await this.auth.token();
      return this.fetchImpl(url.toString(), {
        method,
        body,
        headers: { ...headers, Authorization: `Bearer ${token}` },
        credentials: "omit",
        cache: "no-store",
      });
    };
    let response: Response;
    try {
      response = await send();
      if (response.status === 401) {
        await this.auth.refresh();
        response = await send();
      }
    } catch (exc) {
      if (exc instanceof FilesError) throw exc;
      if (this.endedMessage) throw new FilesError(0, "ended", this.endedMessage);
      throw new FilesError(0, "network", "Can't reach your workspace. Check your connection.");
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
}

/** The agent's `{"error": {code, message}}` answer as a `FilesError` (shared with the guide). */
export async function errorFrom(response: Response): Promise<FilesError> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const code = body?.error?.code ?? `http_${response.status}`;
  const fallback =
    response.status === 413
      ? "That file is larger than the workspace allows."
      : response.status === 404
        ? "That file or folder no longer exists."
        : `The workspace refused the request (HTTP ${response.status}).`;
  return new FilesError(response.status, code, body?.error?.message || fallback);
}

/** Folders first, then case-insensitive by name: the order people expect in a file tree. */
export function sortEntries(entries: FileEntry[]): FileEntry[] {
  return [...entries].sort((a, b) => {
    const rank = (e: FileEntry) => (e.type === "dir" ? 0 : 1);
    return rank(a) - rank(b) || a.name.localeCompare(b.name, undefined, { sensitivity: "base" });
  });
}

/** Join a directory and a name into a workspace-relative path ("" is the root). */
export function joinPath(dir: string, name: string): string {
  return dir ? `${dir.replace(/\/+$/, "")}/${name}` : name;
}

/** The directory part of a workspace-relative path ("" for top-level entries). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** A file or folder name the learner typed: one path segment, no separators or dot-names. */
export function validName(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return "Enter a name.";
  if (trimmed.includes("/") || trimmed.includes("\\")) return "A name can't contain / or \\.";
  if (trimmed === "." || trimmed === "..") return "That name is reserved.";
  if (trimmed.includes("\0")) return "That name contains an invalid character.";
  return null;
}
