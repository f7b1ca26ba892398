import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { archiveFileName } from "../src/download";
import { decodeEditable } from "../src/editor/text";
import { extensionOf } from "../src/editor/languages";
import { joinPath, parentPath, sortEntries, validName } from "../src/files/client";
import { backoffDelay } from "../src/terminal/backoff";
import { AckBatcher } from "../src/terminal/flowControl";
import { parseServerControl, terminalSubprotocols, terminalUrl } from "../src/terminal/protocol";

describe("terminal protocol", () => {
  it("builds ws/wss URLs without any token in them", () => {
    expect(terminalUrl("http://127.0.0.1:8000/", 4)).toBe("ws://127.0.0.1:8000/seats/4/terminal");
    expect(terminalUrl("https://h1.example.com", 12)).toBe("wss://h1.example.com/seats/12/terminal");
    expect(terminalSubprotocols("T0K")).toEqual(["clarateach.terminal.v1", "bearer.T0K"]);
  });

  it("parses hello and error, ignores junk", () => {
    expect(parseServerControl('{"type":"hello","seat":2,"readonly":true,"window":1024}')).toEqual({
      type: "hello",
      seat: 2,
      readonly: true,
      window: 1024,
    });
    expect(parseServerControl('{"type":"error","code":"x"}')).toEqual({ type: "error", code: "x", message: "" });
    expect(parseServerControl("nope")).toBeNull();
    expect(parseServerControl('{"type":"other"}')).toBeNull();
  });
});

describe("backoffDelay", () => {
  it("grows exponentially with jitter and is capped", () => {
    expect(backoffDelay(0, { random: () => 0 })).toBe(250);
    expect(backoffDelay(0, { random: () => 1 })).toBe(500);
    expect(backoffDelay(3, { random: () => 0 })).toBe(2000);
    expect(backoffDelay(30, { random: () => 1 })).toBe(15_000);
  });
});

describe("AckBatcher", () => {
  const manualScheduler = () => {
    const pending: (() => void)[] = [];
    return {
      pending,
      scheduler: { set: (cb: () => void) => pending.push(cb), clear: () => pending.splice(0) },
    };
  };

  it("acks at the threshold immediately and the remainder on the timer", () => {
    const acks: number[] = [];
    const { pending, scheduler } = manualScheduler();
    const batcher = new AckBatcher((n) => acks.push(n), 100, 20, scheduler);
    batcher.processed(40);
    batcher.processed(40);
    expect(acks).toEqual([]);
    batcher.processed(30);
    expect(acks).toEqual([110]);
    batcher.processed(5);
    pending.shift()!();
    expect(acks).toEqual([110, 5]);
  });

  it("never holds back more than a quarter of a small window", () => {
    const acks: number[] = [];
    const { scheduler } = manualScheduler();
    const batcher = new AckBatcher((n) => acks.push(n), 16 * 1024, 20, scheduler);
    batcher.adaptToWindow(4096);
    batcher.processed(1024);
    expect(acks).toEqual([1024]);
  });

  it("drops pending bytes on reset (they belonged to the old socket)", () => {
    const acks: number[] = [];
    const { scheduler } = manualScheduler();
    const batcher = new AckBatcher((n) => acks.push(n), 100, 20, scheduler);
    batcher.processed(50);
    batcher.reset();
    batcher.flush();
    expect(acks).toEqual([]);
  });
});

describe("files helpers", () => {
  it("sorts folders first, then by name", () => {
    const e = (name: string, type: "file" | "dir") => ({ name, path: name, type, size: 0, mtime: 0 });
    expect(sortEntries([e("b.py", "file"), e("Z", "dir"), e("a.py", "file"), e("a", "dir")]).map((x) => x.name)).toEqual([
      "a",
      "Z",
      "a.py",
      "b.py",
    ]);
  });

  it("joins and splits workspace paths", () => {
    expect(joinPath("", "a.txt")).toBe("a.txt");
    expect(joinPath("src/", "a.txt")).toBe("src/a.txt");
    expect(parentPath("src/lib/a.txt")).toBe("src/lib");
    expect(parentPath("a.txt")).toBe("");
  });

  it("accepts one path segment only", () => {
    expect(validName("notes.md")).toBeNull();
    expect(validName("  ")).not.toBeNull();
    expect(validName("../x")).not.toBeNull();
    expect(validName("a\\b")).not.toBeNull();
    expect(validName("..")).not.toBeNull();
  });
});

describe("editor text", () => {
  it("opens UTF-8 text and refuses binary or non-UTF-8 bytes", () => {
    expect(decodeEditable(new TextEncoder().encode("héllo"))).toEqual({ ok: true, text: "héllo" });
    expect(decodeEditable(new Uint8Array([0x61, 0, 0x62])).ok).toBe(false);
    expect(decodeEditable(new Uint8Array([0xff, 0xfe, 0x41])).ok).toBe(false);
  });

  it("keeps a byte-order mark so saving does not change the file", () => {
    const decoded = decodeEditable(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]));
    expect(decoded.ok && decoded.text).toBe("\ufeffA");
  });

  it("knows extensions", () => {
    expect(extensionOf("src/app.TS")).toBe("ts");
    expect(extensionOf(".bashrc")).toBe("");
    expect(extensionOf("dir.d/Makefile")).toBe("");
  });
});

describe("archiveFileName", () => {
  it("slugs the workshop name", () => {
    expect(archiveFileName("Intro to Claude Code — Día 1", "ws1", 7)).toBe("intro-to-claude-code-dia-1-seat7.zip");
    expect(archiveFileName("!!!", "ws1", 2)).toBe("ws1-seat2.zip");
  });
});

describe("parseConfig", () => {
  it("defaults to same origin and strips trailing slashes", () => {
    const none = { apiUrls: null, googleClientId: null };
    expect(parseConfig({ apiBaseUrl: "https://api.example/ " })).toEqual({ apiBaseUrl: "https://api.example", ...none });
    expect(parseConfig(null)).toEqual({ apiBaseUrl: "", ...none });
    expect(parseConfig({ apiBaseUrl: 3 })).toEqual({ apiBaseUrl: "", ...none });
  });

  it("keeps only http(s) function URLs and a client ID of Google's shape", () => {
    const parsed = parseConfig({
      apiBaseUrl: "",
      apiUrls: { workshops: "https://ws.run.app/", control: "javascript:alert(1)", hosts: 7 },
      googleClientId: " 123-abc.apps.googleusercontent.com ",
    });
    expect(parsed.apiUrls).toEqual({ workshops: "https://ws.run.app" });
    expect(parsed.googleClientId).toBe("123-abc.apps.googleusercontent.com");
    expect(parseConfig({ apiUrls: [], googleClientId: "<img>" })).toMatchObject({ apiUrls: null, googleClientId: null });
  });
});
