import { describe, expect, it } from "vitest";
import type { VirtualMachine } from "../api/types";
import { matchesFilter, parseTagFilter, parseTags, resourceGroupsOf } from "./filters";

const vm = (rg: string, name: string, tags?: Record<string, string>): VirtualMachine => ({
  id: `/subscriptions/s/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`,
  name,
  tags,
});

describe("machine filters", () => {
  const web = vm("Web", "web1", { role: "web" });
  const db = vm("data", "db1", { role: "db", tier: "gold" });

  it("filters by resource group case-insensitively", () => {
    expect(matchesFilter(web, { resourceGroup: "web", tag: "" })).toBe(true);
    expect(matchesFilter(db, { resourceGroup: "web", tag: "" })).toBe(false);
  });

  it("filters by a tag name or a name=value pair", () => {
    expect(matchesFilter(db, { resourceGroup: "", tag: "tier" })).toBe(true);
    expect(matchesFilter(web, { resourceGroup: "", tag: "tier" })).toBe(false);
    expect(matchesFilter(web, { resourceGroup: "", tag: "role=web" })).toBe(true);
    expect(matchesFilter(db, { resourceGroup: "", tag: "role=web" })).toBe(false);
  });

  it("lists each resource group once, sorted", () => {
    expect(resourceGroupsOf([web, db, vm("WEB", "web2")])).toEqual(["data", "Web"]);
  });

  it("parses tag filters and tag lists, naming bad entries", () => {
    expect(parseTagFilter(" role = web ")).toEqual({ key: "role", value: "web" });
    expect(parseTagFilter("=x")).toBeNull();
    expect(parseTags("role=web, tier=gold")).toEqual({ tags: { role: "web", tier: "gold" }, errors: [] });
    expect(parseTags("role").errors).toEqual(["'role' is not key=value."]);
  });
});
