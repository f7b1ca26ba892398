import { describe, expect, it } from "vitest";
import { minimalChange } from "../src/editor/text";
import { WATCH_SUBPROTOCOL, WatchConnection, affectedPaths, treeAffected, watchUrl } from "../src/files/watch";

class FakeSocket {
  readyState = 0;
  closedWith: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  text(value: unknown) {
    this.onmessage?.({ data: typeof value === "string" ? value : JSON.stringify(value) });
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  close(code: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
}

function harness(ended = () => false) {
  const sockets: FakeSocket[] = [];
  const timers: (() => void)[] = [];
  const got = { changes: [] as string[][], resyncs: 0 };
  const seat = {
    session: { endpoint: "https://host-1.example", seat: 3 },
    tokens: ["tok-1", "tok-2"],
    refreshes: 0,
    async token() {
      return this.tokens[this.refreshes]!;
    },
    async refresh() {
      this.refreshes += 1;
    },
  };
  const watch = new WatchConnection(
    seat,
    { changes: (paths) => got.changes.push(paths), resync: () => (got.resyncs += 1) },
    {
      createSocket: (url, protocols) => {
        const socket = new FakeSocket(url, protocols);
        sockets.push(socket);
        return socket as unknown as WebSocket;
      },
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => undefined,
      random: () => 0,
      isEnded: ended,
    },
  );
  const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { watch, sockets, timers, got, seat, flush };
}

describe("WatchConnection", () => {
  it("sends the token as a subprotocol, never in the URL", async () => {
    const { watch, sockets, flush } = harness();
    watch.start();
    await flush();
    expect(sockets[0]!.url).toBe("wss://host-1.example/seats/3/watch");
    expect(sockets[0]!.url).not.toContain("tok-1");
    expect(sockets[0]!.protocols).toEqual([WATCH_SUBPROTOCOL, "bearer.tok-1"]);
  });

  it("delivers changes and resyncs, and ignores junk", async () => {
    const { watch, sockets, got, flush } = harness();
    watch.start();
    await flush();
    sockets[0]!.open();
    sockets[0]!.text({ type: "changes", paths: ["a.py", 7, "b/c.py"] });
    sockets[0]!.text({ type: "resync" });
    sockets[0]!.text("not json");
    sockets[0]!.text({ type: "changes", paths: "a.py" });
    expect(got.changes).toEqual([["a.py", "b/c.py"]]);
    expect(got.resyncs).toBe(1);
  });

  it("resyncs after a reconnect and refreshes the token after 4401", async () => {
    const { watch, sockets, timers, got, seat, flush } = harness();
    watch.start();
    await flush();
    sockets[0]!.open();
    expect(got.resyncs).toBe(0); // the first open lists the tree anyway
    sockets[0]!.serverClose(4401);
    expect(timers).toHaveLength(1);
    timers.shift()!();
    await flush();
    expect(seat.refreshes).toBe(1);
    expect(sockets[1]!.protocols).toContain("bearer.tok-2");
    sockets[1]!.open();
    expect(got.resyncs).toBe(1);
  });

  it("stops reconnecting once the workshop has ended, and on stop()", async () => {
    let ended = false;
    const { watch, sockets, timers, flush } = harness(() => ended);
    watch.start();
    await flush();
    sockets[0]!.open();
    ended = true;
    sockets[0]!.serverClose(1006);
    expect(timers).toHaveLength(0);
    const second = harness();
    second.watch.start();
    await second.flush();
    second.sockets[0]!.open();
    second.watch.stop();
    expect(second.sockets[0]!.closedWith).toBe(1000);
    expect(second.timers).toHaveLength(0);
  });

  it("builds ws:// for http endpoints", () => {
    expect(watchUrl("http://127.0.0.1:9000/", 1)).toBe("ws://127.0.0.1:9000/seats/1/watch");
  });
});

describe("what a change touches", () => {
  it("maps changed paths to open tabs, a folder covering its insides", () => {
    const open = ["app.py", "src/main.py", "src/lib/util.py", "srcx/other.py"];
    expect(affectedPaths(open, ["src"])).toEqual(["src/main.py", "src/lib/util.py"]);
    expect(affectedPaths(open, ["app.py", "nothing.txt"])).toEqual(["app.py"]);
    expect(affectedPaths(open, [])).toEqual([]);
  });

  it("re-lists the tree only for the root or expanded folders", () => {
    const expanded = new Set(["src"]);
    expect(treeAffected(expanded, ["new.py"])).toBe(true);
    expect(treeAffected(expanded, ["src/new.py"])).toBe(true);
    expect(treeAffected(expanded, ["lib/hidden.py"])).toBe(false);
    expect(treeAffected(expanded, ["src/deep/x.py"])).toBe(false);
  });
});

describe("minimalChange", () => {
  it("keeps the common prefix and suffix so the cursor maps", () => {
    expect(minimalChange("abc", "abc")).toBeNull();
    expect(minimalChange("x = 1\ny = 2\n", "x = 1\ny = 3\n")).toEqual({ from: 10, to: 11, insert: "3" });
    expect(minimalChange("hello", "")).toEqual({ from: 0, to: 5, insert: "" });
    expect(minimalChange("", "new")).toEqual({ from: 0, to: 0, insert: "new" });
    expect(minimalChange("aaaa", "aa")).toEqual({ from: 2, to: 4, insert: "" });
  });
});
