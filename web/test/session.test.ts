import { describe, expect, it } from "vitest";
import { tokenExpiry } from "../src/jwt";
import { displayCode, needsRefresh, sessionFromJoin, SessionStore } from "../src/session";
import { randomNonce } from "../src/nonce";

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const tokenWithExp = (exp: number) => `${b64url({ alg: "RS256" })}.${b64url({ exp, seat: 2 })}.sig`;

class MemoryStorage {
  data = new Map<string, string>();
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
}

const join = (token: string) => ({
  token,
  endpoint: "http://h",
  seat: 2,
  reconnectCode: "RC",
  workshop: { id: "w", name: "W" },
});

describe("tokenExpiry", () => {
  it("reads exp in milliseconds, and 0 for garbage", () => {
    expect(tokenExpiry(tokenWithExp(1_700_000_000))).toBe(1_700_000_000_000);
    expect(tokenExpiry("not-a-jwt")).toBe(0);
    expect(tokenExpiry("a.%%%.c")).toBe(0);
  });
});

describe("SessionStore", () => {
  it("round-trips a session and forgets corrupt entries", () => {
    const storage = new MemoryStorage();
    const store = new SessionStore(storage);
    const session = sessionFromJoin("abcd-efgh", join(tokenWithExp(2_000_000_000)));
    store.save(session);
    expect(store.load()).toEqual(session);
    storage.setItem("clarateach.session.v1", "{not json");
    expect(store.load()).toBeNull();
    expect(storage.data.size).toBe(0);
  });

  it("survives storage that throws", () => {
    const store = new SessionStore({
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => {
        throw new Error("denied");
      },
    });
    expect(store.load()).toBeNull();
    expect(() => store.save(sessionFromJoin("c", join("x.y.z")))).not.toThrow();
  });
});

describe("needsRefresh", () => {
  it("refreshes tokens that lapse within the margin", () => {
    const session = sessionFromJoin("c", join(tokenWithExp(1000)));
    expect(needsRefresh(session, 1000_000 - 200_000)).toBe(false);
    expect(needsRefresh(session, 1000_000 - 60_000)).toBe(true);
  });
});

describe("randomNonce", () => {
  it("falls back to getRandomValues outside secure contexts", () => {
    const noUuid = { getRandomValues: (a: Uint8Array) => crypto.getRandomValues(a) } as unknown as Crypto;
    const nonce = randomNonce(noUuid);
    expect(nonce).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomNonce(noUuid)).not.toBe(nonce);
  });
});

describe("displayCode", () => {
  it("reads back a forgiving entry the way the instructor shows it", () => {
    expect(displayCode("  claude 7kq2 ")).toBe("CLAUDE-7KQ2");
    expect(displayCode("claude-7kq2")).toBe("CLAUDE-7KQ2");
  });
});

describe("the broadcast a learner got at join", () => {
  it("is kept with the session and shown unless the host has a newer one", async () => {
    const { newest } = await import("../src/room/notices");
    const { parseJoinResult } = await import("../src/api");
    const joined = parseJoinResult({
      token: "a.b.c", endpoint: "http://h/", seat: 2, reconnect_code: "ABCDEF",
      workshop: { id: "w1", name: "W" },
      broadcast: { message: "Break until 11", sent_at: "2026-12-02T10:00:00+00:00" },
    });
    expect(joined.broadcast).toEqual({ message: "Break until 11", sent_at: "2026-12-02T10:00:00+00:00" });
    const older = { message: "old", sent_at: "2026-12-02T09:00:00+00:00" };
    expect(newest(null, joined.broadcast!)).toBe(joined.broadcast);
    expect(newest(older, joined.broadcast!)).toBe(joined.broadcast);
    expect(newest(joined.broadcast!, older)).toBe(joined.broadcast);
    expect(parseJoinResult({ token: "t", endpoint: "e", seat: 1, reconnect_code: "r", workshop: { id: "w" }, broadcast: { message: 3 } }).broadcast).toBeNull();
  });
});
