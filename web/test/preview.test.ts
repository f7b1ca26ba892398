import { afterEach, describe, expect, it, vi } from "vitest";
import { listPorts } from "../src/preview/open";

const source = { endpoint: "http://agent.test", seat: 4, token: async () => "tok" };

afterEach(() => vi.unstubAllGlobals());

describe("listPorts", () => {
  it("asks the seat's agent with the bearer token and keeps only well-formed ports", async () => {
    const seen: { url: string; auth: string | null; credentials?: RequestCredentials }[] = [];
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push({ url: String(input), auth: new Headers(init?.headers).get("Authorization"), credentials: init?.credentials });
      const ports = [
        { port: 8000, origin: "http://p8000-s4-w.localhost:1", shared: true, listening: true },
        { port: "<img src=x>", origin: "x", shared: true, listening: true },
        null,
      ];
      return new Response(JSON.stringify({ ports }), { status: 200 });
    });
    expect(await listPorts(source)).toEqual([{ port: 8000, origin: "http://p8000-s4-w.localhost:1", shared: true, listening: true }]);
    expect(seen).toEqual([{ url: "http://agent.test/seats/4/preview/ports", auth: "Bearer tok", credentials: "omit" }]);
  });

  it("answers null (try again later) when the agent refuses or is unreachable", async () => {
    vi.stubGlobal("fetch", async () => new Response("{}", { status: 401 }));
    expect(await listPorts(source)).toBeNull();
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("offline");
    });
    expect(await listPorts(source)).toBeNull();
  });
});
