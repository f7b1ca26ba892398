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
