import { describe, expect, it } from "vitest";
import { TerminalConnection, type StateChange } from "../src/terminal/connection";

/** A scripted stand-in for the browser WebSocket. */
class FakeSocket {
  readyState = 0;
  binaryType = "blob";
  sent: (string | Uint8Array)[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
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
    this.onmessage?.({ data: JSON.stringify(value) });
  }
  binary(bytes: number[]) {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer });
  }
  serverClose(code: number, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  send(data: string | Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
}

function harness(options: { refreshFails?: unknown } = {}) {
  const sockets: FakeSocket[] = [];
  const states: StateChange[] = [];
  const timers: (() => void)[] = [];
  const sink = { resets: 0, written: [] as number[][], pendingDone: [] as (() => void)[] };
  const seat = {
    session: { endpoint: "http://127.0.0.1:7000", seat: 5 },
    tokens: ["tok-1", "tok-2", "tok-3"],
    refreshes: 0,
    async token() {
      return this.tokens[this.refreshes]!;
    },
    async refresh() {
      if (options.refreshFails) throw options.refreshFails;
      this.refreshes += 1;
    },
  };
  const connection = new TerminalConnection({
    seat,
    sink: {
      reset: () => {
        sink.resets += 1;
      },
      write: (data, done) => {
        sink.written.push([...data]);
        sink.pendingDone.push(done);
      },
    },
    onState: (change) => states.push(change),
    isPermanentLoss: (error) => error === "gone",
    createSocket: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    timers: { set: (cb) => timers.push(cb), clear: () => undefined },
    random: () => 0,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { sockets, states, timers, sink, seat, connection, settle };
}

describe("TerminalConnection", () => {
  it("offers the token as a subprotocol and never in the URL", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    expect(h.sockets[0]!.url).toBe("ws://127.0.0.1:7000/seats/5/terminal");
    expect(h.sockets[0]!.protocols).toEqual(["clarateach.terminal.v1", "bearer.tok-1"]);
    expect(h.sockets[0]!.url).not.toContain("tok");
  });

  it("resets the screen on open, sends the size, and acks only processed output", async () => {
    const h = harness();
    h.connection.resize(100, 30);
    h.connection.start();
    await h.settle();
    const socket = h.sockets[0]!;
    socket.open();
    expect(h.sink.resets).toBe(1);
    expect(socket.sent).toContainEqual('{"type":"resize","cols":100,"rows":30}');
    expect(h.states.at(-1)!.state).toBe("connected");
    socket.text({ type: "hello", seat: 5, readonly: false, window: 262144 });
    socket.binary([104, 105]);
    expect(h.sink.written).toEqual([[104, 105]]);
    expect(socket.sent.filter((m) => String(m).includes("ack"))).toEqual([]);
    h.sink.pendingDone.shift()!();
    expect(h.timers).toHaveLength(1); // the batching timer
    h.timers.shift()!();
    expect(socket.sent).toContainEqual('{"type":"ack","bytes":2}');
  });

  it("sends keystrokes as binary frames only while connected", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.connection.sendInput(new Uint8Array([3]));
    expect(h.sockets[0]!.sent).toEqual([]);
    h.sockets[0]!.open();
    h.connection.sendInput(new Uint8Array([3]));
    expect(h.sockets[0]!.sent).toContainEqual(new Uint8Array([3]));
  });

  it("reconnects with backoff after a drop and shows the reconnecting state", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.sockets[0]!.open();
    h.sockets[0]!.serverClose(1006);
    expect(h.states.at(-1)).toMatchObject({ state: "reconnecting", retryInMs: 250 });
    h.timers.shift()!();
    await h.settle();
    expect(h.sockets).toHaveLength(2);
    h.sockets[1]!.open();
    expect(h.states.at(-1)!.state).toBe("connected");
    expect(h.sink.resets).toBe(2);
  });

  it("refreshes the token and reconnects at once on 4401", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.sockets[0]!.open();
    h.sockets[0]!.serverClose(4401);
    await h.settle();
    expect(h.seat.refreshes).toBe(1);
    expect(h.sockets[1]!.protocols).toContain("bearer.tok-2");
  });

  it("backs off when a fresh token is refused again before any hello", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.sockets[0]!.open();
    h.sockets[0]!.serverClose(4401);
    await h.settle();
    h.sockets[1]!.open();
    h.sockets[1]!.serverClose(4401);
    await h.settle();
    expect(h.sockets).toHaveLength(2);
    expect(h.states.at(-1)).toMatchObject({ state: "reconnecting" });
    h.timers.shift()!();
    await h.settle();
    expect(h.seat.refreshes).toBe(2);
    expect(h.sockets).toHaveLength(3);
  });

  it("re-joins after repeated refused upgrades (a 401 before upgrade looks like 1006)", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.sockets[0]!.serverClose(1006);
    h.timers.shift()!();
    await h.settle();
    h.sockets[1]!.serverClose(1006);
    h.timers.shift()!();
    await h.settle();
    expect(h.seat.refreshes).toBe(1);
  });

  it("stops for good when the workshop is stopped", async () => {
    const h = harness();
    h.connection.start();
    await h.settle();
    h.sockets[0]!.open();
    h.sockets[0]!.serverClose(4410);
    expect(h.states.at(-1)).toMatchObject({ state: "disconnected" });
    expect(h.timers).toHaveLength(0);
  });

  it("stops for good when re-joining says the seat is gone", async () => {
    const h = harness({ refreshFails: "gone" });
    h.connection.start();
    await h.settle();
    h.sockets[0]!.open();
    h.sockets[0]!.serverClose(4401);
    await h.settle();
    expect(h.states.at(-1)).toMatchObject({ state: "disconnected" });
    expect(h.sockets).toHaveLength(1);
  });
});
