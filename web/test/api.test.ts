import { describe, expect, it } from "vitest";
import { ApiClient, classifyJoinFailure, JoinError, parseRetryAfter } from "../src/api";
import { joinFailureMessage } from "../src/messages";

const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const okBody = {
  token: "a.b.c",
  endpoint: "http://127.0.0.1:9000/",
  seat: 3,
  reconnect_code: "RC-1",
  workshop: { id: "ws1", name: "Intro" },
};

describe("ApiClient.join", () => {
  it("sends the code as typed plus nonce and reconnect code, and parses the seat", async () => {
    const sent: { url: string; body: unknown }[] = [];
    const api = new ApiClient("https://api.example", async (input, init) => {
      sent.push({ url: String(input), body: JSON.parse(String(init?.body)) });
      return jsonResponse(200, okBody);
    });
    const result = await api.join({ code: " k7qd m2xp ", clientNonce: "n-1", reconnectCode: "RC-1" });
    expect(sent).toEqual([
      { url: "https://api.example/api/join", body: { code: " k7qd m2xp ", client_nonce: "n-1", reconnect_code: "RC-1" } },
    ]);
    expect(result).toEqual({
      token: "a.b.c",
      endpoint: "http://127.0.0.1:9000",
      seat: 3,
      reconnectCode: "RC-1",
      workshop: { id: "ws1", name: "Intro" },
      broadcast: null,
    });
  });

  it("sends a display name trimmed, and none when blank", async () => {
    const bodies: unknown[] = [];
    const api = new ApiClient("https://api.example", async (_input, init) => {
      bodies.push(JSON.parse(String(init?.body)));
      return jsonResponse(200, okBody);
    });
    await api.join({ code: "X", displayName: "  Ada  " });
    await api.join({ code: "X", displayName: "   " });
    expect(bodies).toEqual([{ code: "X", display_name: "Ada" }, { code: "X" }]);
  });

  it.each([
    [404, { error: { code: "workshop_not_available", message: "x" } }, {}, "not_available"],
    [409, { error: { code: "workshop_full", message: "x" } }, {}, "full"],
    [429, { error: { code: "rate_limited", message: "x" } }, { "Retry-After": "30" }, "rate_limited"],
    [500, { error: { code: "internal", message: "x" } }, {}, "server"],
  ])("maps HTTP %i to %s", async (status, body, headers, kind) => {
    const api = new ApiClient("", async () => jsonResponse(status, body, headers));
    const error = await api.join({ code: "X" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JoinError);
    expect((error as JoinError).kind).toBe(kind);
  });

  it("reports a network failure as such", async () => {
    const api = new ApiClient("", async () => {
      throw new TypeError("Failed to fetch");
    });
    const error = (await api.join({ code: "X" }).catch((e: unknown) => e)) as JoinError;
    expect(error.kind).toBe("network");
  });

  it("treats a malformed success body as a server error", async () => {
    const api = new ApiClient("", async () => jsonResponse(200, { seat: "one" }));
    expect(((await api.join({ code: "X" }).catch((e: unknown) => e)) as JoinError).kind).toBe("server");
  });
});

describe("classifyJoinFailure", () => {
  it("distinguishes an invalid reconnect code from an unavailable workshop", () => {
    const bad = classifyJoinFailure(404, { error: { code: "invalid_reconnect_code" } }, null, true);
    expect(bad.kind).toBe("invalid_reconnect_code");
  });

  it("keeps the Retry-After seconds", () => {
    expect(classifyJoinFailure(429, null, "12", false).retryAfterSeconds).toBe(12);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("7")).toBe(7);
    expect(parseRetryAfter(new Date(10_000 + 5_000).toUTCString(), 10_000)).toBe(5);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
  });
});

describe("joinFailureMessage", () => {
  it("gives each failure its own message", () => {
    const kinds = ["not_available", "full", "rate_limited", "invalid_reconnect_code", "invalid_input", "network", "server"] as const;
    const messages = kinds.map((kind) => joinFailureMessage(new JoinError(kind, "")));
    expect(new Set(messages).size).toBe(kinds.length);
    expect(joinFailureMessage(new JoinError("rate_limited", "", 42))).toContain("42 seconds");
    expect(joinFailureMessage(new JoinError("not_available", ""))).toContain("No running workshop has that code");
  });
});
