import { describe, expect, it } from "vitest";
import { actionMatches, isGranted } from "./permissions";

describe("actionMatches", () => {
  it("matches '*' and wildcards across slashes, case-insensitively", () => {
    expect(actionMatches("*", "Microsoft.Compute/virtualMachines/runCommands/write")).toBe(true);
    expect(actionMatches("*/read", "Microsoft.Compute/virtualMachines/runCommands/read")).toBe(true);
    expect(actionMatches("*/read", "Microsoft.Compute/virtualMachines/runCommands/write")).toBe(false);
    expect(actionMatches("microsoft.compute/virtualMachines/*", "Microsoft.Compute/virtualMachines/runCommands/write")).toBe(true);
  });

  it("treats regex characters in a pattern literally", () => {
    expect(actionMatches("Microsoft.Compute/x", "MicrosoftXCompute/x")).toBe(false);
  });
});

describe("isGranted", () => {
  const reader = { actions: ["*/read"], notActions: [] };
  const contributor = { actions: ["*"], notActions: ["Microsoft.Authorization/*/write", "Microsoft.Authorization/*/delete"] };

  it("a Reader may read but not write", () => {
    expect(isGranted([reader], "Microsoft.Compute/virtualMachines/runCommands/read")).toBe(true);
    expect(isGranted([reader], "Microsoft.Compute/virtualMachines/runCommands/write")).toBe(false);
  });

  it("notActions take away what actions grant", () => {
    expect(isGranted([contributor], "Microsoft.Compute/virtualMachines/runCommands/write")).toBe(true);
    expect(isGranted([contributor], "Microsoft.Authorization/roleAssignments/write")).toBe(false);
  });

  it("any one role granting is enough; no roles grant nothing", () => {
    expect(isGranted([reader, contributor], "RunCommand.Fleet/runs/write")).toBe(true);
    expect(isGranted([], "Microsoft.Compute/virtualMachines/read")).toBe(false);
  });
});
