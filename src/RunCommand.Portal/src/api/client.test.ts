import { describe, expect, it } from "vitest";
import { Api, errorFromBody, relativeLink, withApiVersion } from "./client";

describe("API errors", () => {
  it("keep the API's code and message", () => {
    const e = errorFromBody(403, "Forbidden", { error: { code: "AuthorizationFailed", message: "The client 'r' does not have authorization" } });
    expect(e.status).toBe(403);
    expect(e.code).toBe("AuthorizationFailed");
    expect(e.message).toBe("The client 'r' does not have authorization");
  });

  it("fall back to the HTTP status for a body that is not an ARM error", () => {
    expect(errorFromBody(502, "Bad Gateway", null).message).toBe("The server answered 502 Bad Gateway.");
  });
});

describe("URLs", () => {
  it("adds api-version once and makes nextLinks relative", () => {
    expect(withApiVersion("/a?$top=1", "2023-07-01")).toBe("/a?$top=1&api-version=2023-07-01");
    expect(withApiVersion("/a?api-version=x", "y")).toBe("/a?api-version=x");
    expect(relativeLink("http://h:1/a/b?api-version=1&$skiptoken=x")).toBe("/a/b?api-version=1&$skiptoken=x");
  });
});

describe("Api", () => {
  it("sends the bearer token in a header, never in the URL, and follows nextLink", async () => {
    const calls: { url: string; auth: string }[] = [];
    const pages: Record<string, unknown> = {
      "/list?api-version=v": { value: [1, 2], nextLink: "http://server/list?api-version=v&$skiptoken=2" },
      "/list?api-version=v&$skiptoken=2": { value: [3] },
    };
    const api = new Api("secret-token", async (input, init) => {
      const url = String(input);
      calls.push({ url, auth: new Headers(init?.headers).get("Authorization") ?? "" });
      return new Response(JSON.stringify(pages[url]), { status: 200 });
    });
    expect(await api.list<number>("/list", "v")).toEqual([1, 2, 3]);
    expect(calls.every((c) => c.auth === "Bearer secret-token" && !c.url.includes("secret-token"))).toBe(true);
  });

  it("throws the API's error for a refused request", async () => {
    const api = new Api("t", async () => new Response(JSON.stringify({ error: { code: "InvalidAuthenticationToken", message: "Authentication failed." } }), { status: 401 }));
    await expect(api.get("/x", "v")).rejects.toMatchObject({ status: 401, code: "InvalidAuthenticationToken", message: "Authentication failed." });
  });
});
