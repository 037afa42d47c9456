import { describe, expect, it } from "vitest";
import { formatAgo, formatDuration, formatTags, formatVersion, isTerminal, toneOf } from "./format";

describe("formatDuration", () => {
  it("shows tenths under ten seconds, minutes and hours above", () => {
    expect(formatDuration("2026-01-01T00:00:00Z", "2026-01-01T00:00:03.2Z")).toBe("3.2 s");
    expect(formatDuration("2026-01-01T00:00:00Z", "2026-01-01T00:02:05Z")).toBe("2 min 5 s");
    expect(formatDuration("2026-01-01T00:00:00Z", "2026-01-01T03:04:00Z")).toBe("3 h 4 min");
  });

  it("runs to now without an end, and is null without a start", () => {
    expect(formatDuration("2026-01-01T00:00:00Z", undefined, new Date("2026-01-01T00:00:30Z"))).toBe("30 s");
    expect(formatDuration(undefined)).toBeNull();
  });
});

describe("formatAgo", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  it("says how long ago in plain words", () => {
    expect(formatAgo("2026-01-01T11:59:58Z", now)).toBe("just now");
    expect(formatAgo("2026-01-01T11:59:30Z", now)).toBe("30 s ago");
    expect(formatAgo("2026-01-01T11:50:00Z", now)).toBe("10 min ago");
    expect(formatAgo(undefined, now)).toBe("never");
  });
});

describe("states", () => {
  it("maps states to tones and knows the terminal ones", () => {
    expect(toneOf("Succeeded")).toBe("ok");
    expect(toneOf("TimedOut")).toBe("bad");
    expect(toneOf("Running")).toBe("busy");
    expect(toneOf("Canceled")).toBe("idle");
    expect(isTerminal("Failed")).toBe(true);
    expect(isTerminal("Pending")).toBe(false);
  });

  it("formats tags as k=v pairs", () => {
    expect(formatTags({ role: "web", tier: "gold" })).toBe("role=web, tier=gold");
    expect(formatTags(undefined)).toBe("");
  });
});

describe("formatVersion", () => {
  it("keeps a short commit of the build metadata", () => {
    expect(formatVersion("0.1.0+6bbfc63bb87daca662f079f6cb8211cfe7eba288")).toBe("0.1.0+6bbfc63");
    expect(formatVersion("1.2.3")).toBe("1.2.3");
  });
});
