import { describe, expect, it } from "vitest";
import { parseMachineId, runCommandPath } from "./ids";
import { machineHref, parseRoute, runCommandHref } from "./router";
import { orderSteps } from "./deployments";
import { cutOutput, groupOutputs, progressOf } from "./fleet";

describe("routes", () => {
  it("round-trips machine and run command links, escaping names", () => {
    const vm = { rg: "web", vm: "a b", scaleSet: null, instance: null };
    expect(parseRoute(runCommandHref(vm, "x/y"))).toEqual({ page: "runCommand", ...vm, name: "x/y" });
    const inst = { rg: "web", vm: null, scaleSet: "ss", instance: "3" };
    expect(parseRoute(machineHref(inst, "/new"))).toEqual({ page: "machine", ...inst, action: "new" });
  });

  it("knows the top-level pages and says when there is none", () => {
    expect(parseRoute("")).toEqual({ page: "machines" });
    expect(parseRoute("#/fleet/web/run1")).toEqual({ page: "fleetRun", rg: "web", name: "run1" });
    expect(parseRoute("#/deployments/web")).toEqual({ page: "deployments", rg: "web" });
    expect(parseRoute("#/nope")).toEqual({ page: "notFound", path: "/nope" });
    expect(parseRoute("#/rg/%E0%A4%A/vm/x")).toEqual({ page: "notFound", path: "/rg/%E0%A4%A/vm/x" });
  });
});

describe("resource ids", () => {
  it("parses VMs and scale-set instances and builds run command paths", () => {
    const id = "/subscriptions/s/resourceGroups/web/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/2";
    const ref = parseMachineId(id)!;
    expect(ref).toEqual({ subscription: "s", resourceGroup: "web", vmName: null, scaleSet: "ss", instanceId: "2" });
    expect(runCommandPath(ref, "hi")).toBe(id + "/runCommands/hi");
    expect(parseMachineId("/subscriptions/s/resourceGroups/web")).toBeNull();
  });
});

describe("deployment steps", () => {
  it("orders each step after what it depends on", () => {
    const dep = (name: string, after: string[] = []) => ({
      id: `/x/${name}`,
      resourceType: "Microsoft.Compute/virtualMachines/runCommands",
      resourceName: name,
      dependsOn: after.map((a) => ({ id: `/x/${a}`, resourceType: "t", resourceName: a })),
    });
    const steps = orderSteps([dep("c", ["b"]), dep("b", ["a"]), dep("a"), dep("z")]);
    expect(steps.map((s) => `${s.name}@${s.level}`)).toEqual(["a@0", "z@0", "b@1", "c@2"]);
  });

  it("includes resources ARM lists only as a dependency or an operation", () => {
    const second = { id: "/x/second", resourceType: "t", resourceName: "second", dependsOn: [{ id: "/x/first", resourceType: "t", resourceName: "first" }] };
    const steps = orderSteps([second], [{ id: "/X/SECOND", resourceName: "second" }, { id: "/x/lone", resourceName: "lone" }]);
    expect(steps.map((s) => `${s.name}@${s.level}`)).toEqual(["first@0", "lone@0", "second@1"]);
  });
});

describe("fleet progress", () => {
  it("counts finished targets and sizes the bar's segments", () => {
    const p = progressOf({ Pending: 1, Running: 1, Succeeded: 2, Failed: 0, TimedOut: 0, Canceled: 0, NotStarted: 0 });
    expect(p.total).toBe(4);
    expect(p.done).toBe(2);
    expect(p.segments).toEqual([
      { state: "Succeeded", count: 2, percent: 50 },
      { state: "Running", count: 1, percent: 25 },
      { state: "Pending", count: 1, percent: 25 },
    ]);
  });

  it("groups machines whose output and outcome are the same", () => {
    const groups = groupOutputs([
      { resourceId: "a", state: "Succeeded", exitCode: 0, output: "ok\n" },
      { resourceId: "b", state: "Failed", exitCode: 1, output: "ok\n" },
      { resourceId: "c", state: "Succeeded", exitCode: 0, output: "ok\n" },
    ]);
    expect(groups.map((g) => g.targets)).toEqual([["a", "c"], ["b"]]);
  });

  it("says when a target's output is longer than the tail its view shows", () => {
    const ended = { resourceId: "a", state: "Succeeded", output: "hi ✓\n", error: "", outputLength: 7, errorLength: 0 };
    expect(cutOutput(ended)).toBeNull();
    expect(cutOutput({ ...ended, outputLength: 9000 })).toEqual({ output: 9000, error: 0 });
    expect(cutOutput({ ...ended, errorLength: 5000 })).toEqual({ output: 7, error: 5000 });
    // An older server sends no sizes: nothing is claimed.
    expect(cutOutput({ resourceId: "a", state: "Succeeded", output: "x" })).toBeNull();
  });
});
