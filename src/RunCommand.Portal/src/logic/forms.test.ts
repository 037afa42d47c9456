import { describe, expect, it } from "vitest";
import { buildFleetRun, buildRunCommand, emptyScriptFields, formatParameters, nextRunName, parseParameters } from "./runCommandForm";
import { activityFilter } from "./activity";

describe("parameters", () => {
  it("NAME=value lines are named, other lines positional, blank lines skipped", () => {
    expect(parseParameters("GREETING=hi there\n\nplain value\nx=1=2")).toEqual([
      { name: "GREETING", value: "hi there" },
      { name: "", value: "plain value" },
      { name: "x", value: "1=2" },
    ]);
  });

  it("round-trips through the form's text, a positional value with '=' too", () => {
    const p = [
      { name: "A", value: "1" },
      { name: "", value: "pos" },
      { name: "", value: "a-b=c" },
    ];
    expect(parseParameters(formatParameters(p))).toEqual(p);
  });

  it("a name that is not a variable name is an error, never a positional argument; '=value' is positional", () => {
    const errors: string[] = [];
    expect(parseParameters("1BAD=x\nbad-name=y\n=z", errors)).toEqual([{ name: "", value: "z" }]);
    expect(errors).toHaveLength(2);
    expect(errors[1]).toContain("'bad-name'");
  });

  it("a protected line's text is never quoted in its error", () => {
    const errors: string[] = [];
    parseParameters("s3cr-et=hunter2", errors, true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toContain("s3cr-et");
    expect(errors[0]).not.toContain("hunter2");
  });
});

describe("buildRunCommand", () => {
  it("builds the PUT body of a script with parameters, protected parameters, run-as user and timeout", () => {
    const { body, errors } = buildRunCommand(
      { ...emptyScriptFields, name: "hello", script: "echo $A", parameters: "A=1", protectedParameters: "S=secret", runAsUser: "alice", timeoutInSeconds: "30" },
      "local",
    );
    expect(errors).toEqual([]);
    expect(body).toEqual({
      location: "local",
      properties: {
        source: { script: "echo $A" },
        parameters: [{ name: "A", value: "1" }],
        protectedParameters: [{ name: "S", value: "secret" }],
        runAsUser: "alice",
        timeoutInSeconds: 30,
        asyncExecution: false,
      },
    });
  });

  it("reports every mistake at once", () => {
    const { errors } = buildRunCommand({ ...emptyScriptFields, name: "-bad", script: " ", timeoutInSeconds: "1.5" }, "local");
    expect(errors).toHaveLength(3);
  });

  it("takes a script URI or a command document instead of a script", () => {
    expect(buildRunCommand({ ...emptyScriptFields, name: "u", sourceKind: "scriptUri", scriptUri: "ftp://x" }, "local").errors).toEqual([
      "The script URI must be an http:// or https:// URL.",
    ]);
    expect(buildRunCommand({ ...emptyScriptFields, name: "d", sourceKind: "commandId", commandId: "ifconfig" }, "local").body.properties?.source).toEqual({
      commandId: "ifconfig",
    });
  });
});

describe("buildFleetRun", () => {
  const fleet = { ...emptyScriptFields, name: "f", script: "uptime", resourceGroup: "", tags: "", scaleSet: "", maxConcurrency: "", maxErrors: "" };

  it("needs at least one target selector and well-formed limits", () => {
    expect(buildFleetRun(fleet, "local").errors).toEqual(["Choose the targets: a resource group, tags or a scale set."]);
    expect(buildFleetRun({ ...fleet, resourceGroup: "web", maxConcurrency: "ten" }, "local").errors).toEqual([
      "Max concurrency must be a count (10) or a percentage (10%).",
    ]);
  });

  it("puts targets and limits in the body", () => {
    const { body, errors } = buildFleetRun({ ...fleet, tags: "role=web", scaleSet: "ss", maxConcurrency: "50%", maxErrors: "1" }, "local");
    expect(errors).toEqual([]);
    expect(body.properties).toMatchObject({ targets: { tags: { role: "web" }, virtualMachineScaleSet: "ss" }, maxConcurrency: "50%", maxErrors: "1" });
  });
});

describe("nextRunName", () => {
  it("picks the first free -N suffix", () => {
    expect(nextRunName("hello", ["hello", "hello-2"])).toBe("hello-3");
    expect(nextRunName("hello-3", ["hello"])).toBe("hello-2");
  });
});

describe("activityFilter", () => {
  it("quotes values the OData way", () => {
    expect(activityFilter({ since: new Date("2026-01-01T00:00:00Z"), resourceGroup: "web", caller: "o'brien" })).toBe(
      "eventTimestamp ge '2026-01-01T00:00:00.000Z' and resourceGroupName eq 'web' and caller eq 'o''brien'",
    );
  });
});
