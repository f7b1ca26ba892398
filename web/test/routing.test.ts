import { describe, expect, it } from "vitest";
import { InstructorClient } from "../src/pages/instructor/client";
import { idTokenExpiry, renewIn, RENEW_MARGIN_MS } from "../src/pages/instructor/google";
import { ApiRoutes, entryPointOf } from "../src/routing";

const SPLIT = {
  workshops: "https://ws.run.app",
  control: "https://control.run.app",
  create_workshop: "https://create.run.app",
  start_workshop: "https://start.run.app",
  stop_workshop: "https://stop.run.app",
};

function recording(): { calls: { url: string; auth: string | null; method: string }[]; fetch: typeof fetch } {
  const calls: { url: string; auth: string | null; method: string }[] = [];
  const fake = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    calls.push({ url: String(input), auth: headers.get("Authorization"), method: init?.method ?? "GET" });
    const body = String(input).endsWith("/api/workshops?limit=200") ? { workshops: [] } : { workshop: { id: "w1" } };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return { calls, fetch: fake };
}

describe("ApiRoutes", () => {
  it("sends each operation to its function's URL", () => {
    const routes = new ApiRoutes("https://join.run.app", SPLIT);
    expect(routes.url("get_room", "/api/workshops/w1/room")).toBe("https://ws.run.app/api/workshops/w1/room");
    expect(routes.url("broadcast", "/x")).toBe("https://control.run.app/x");
    expect(routes.url("create_workshop", "/api/workshops")).toBe("https://create.run.app/api/workshops");
    // No URL for that function (here: join) -> the base URL.
    expect(routes.url("join", "/api/join")).toBe("https://join.run.app/api/join");
  });

  it("uses the all-in-one api URL, then the base URL", () => {
    expect(new ApiRoutes("https://join.run.app", { api: "https://api.run.app" }).url("get_room", "/r")).toBe("https://api.run.app/r");
    expect(new ApiRoutes("", null).url("get_room", "/api/workshops/w1/room")).toBe("/api/workshops/w1/room");
  });

  it("knows the operation table generated from functions/entrypoints.py", () => {
    expect(entryPointOf("list_workshops")).toBe("workshops");
    expect(entryPointOf("reset_seat")).toBe("control");
    expect(() => entryPointOf("nope" as never)).toThrow(/unknown API operation/);
  });
});

describe("InstructorClient on the split layout", () => {
  it("calls every cockpit operation at its function, with the bearer token", async () => {
    const { calls, fetch } = recording();
    const client = new InstructorClient(new ApiRoutes("", SPLIT), "tok", fetch);
    await client.list();
    await client.create({ name: "n", seats: 2, api_key: "k" });
    await client.start("w1");
    await client.stop("w1");
    await client.room("w1");
    await client.broadcast("w1", "hi");
    await client.releaseSeat("w1", 3);
    await client.resetSeat("w1", 3);
    await client.shadowToken("w1");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET https://ws.run.app/api/workshops?limit=200",
      "POST https://create.run.app/api/workshops",
      "POST https://start.run.app/api/workshops/w1/start",
      "POST https://stop.run.app/api/workshops/w1/stop",
      "GET https://ws.run.app/api/workshops/w1/room",
      "POST https://control.run.app/api/workshops/w1/broadcast",
      "POST https://control.run.app/api/workshops/w1/release-seat",
      "POST https://control.run.app/api/workshops/w1/reset-seat",
      "POST https://control.run.app/api/workshops/w1/shadow-token",
    ]);
    expect(new Set(calls.map((c) => c.auth))).toEqual(new Set(["Bearer tok"]));
  });
});

describe("Google ID token expiry", () => {
  const jwt = (payload: object) => `h.${btoa(JSON.stringify(payload)).replace(/=+$/, "")}.s`;

  it("reads exp of a JWT and nothing from the local admin token", () => {
    expect(idTokenExpiry(jwt({ exp: 1000 }))).toBe(1_000_000);
    expect(idTokenExpiry("local-admin-token-without-dots")).toBeNull();
    expect(idTokenExpiry("a.b.c")).toBeNull();
  });

  it("re-prompts a minute before expiry", () => {
    const now = 5_000_000;
    expect(renewIn(jwt({ exp: (now + 3_600_000) / 1000 }), now)).toBe(3_600_000 - RENEW_MARGIN_MS);
    expect(renewIn(jwt({ exp: now / 1000 }), now)).toBeLessThan(0);
    expect(renewIn("admin", now)).toBeNull();
  });
});
