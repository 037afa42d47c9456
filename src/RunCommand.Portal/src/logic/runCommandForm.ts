// The run command and fleet run forms: from the fields people type to the API's request bodies, with every
// mistake reported at once (the server checks again and its words win).
import type { FleetRun, RunCommand, RunCommandParameter, RunCommandSource } from "../api/types";
import { parseTags } from "./filters";

export type SourceKind = "script" | "scriptUri" | "commandId";

export interface ScriptFields {
  sourceKind: SourceKind;
  script: string;
  scriptUri: string;
  commandId: string;
  /** One per line: "NAME=value" (an environment variable) or a bare value (a positional argument). */
  parameters: string;
  protectedParameters: string;
  runAsUser: string;
  /** Whole seconds; "" or 0 for no limit. */
  timeoutInSeconds: string;
}

export interface RunCommandFields extends ScriptFields {
  name: string;
}

export interface FleetFields extends ScriptFields {
  name: string;
  resourceGroup: string;
  /** "k=v, k2=v2". */
  tags: string;
  scaleSet: string;
  maxConcurrency: string;
  maxErrors: string;
}

export const emptyScriptFields: ScriptFields = {
  sourceKind: "script",
  script: "",
  scriptUri: "",
  commandId: "RunShellScript",
  parameters: "",
  protectedParameters: "",
  runAsUser: "",
  timeoutInSeconds: "",
};

const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;
const limitPattern = /^\d+%?$/;

/** Parses parameter lines: "NAME=value" is named, anything else a positional value (name ""). Blank lines are skipped. */
export function parseParameters(text: string): RunCommandParameter[] {
  const result: RunCommandParameter[] = [];
  for (const line of text.split("\n")) {
    if (line.trim().length === 0) {
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    result.push(m ? { name: m[1]!, value: m[2]! } : { name: "", value: line });
  }
  return result;
}

/** Back to lines, for a re-run's form. */
export function formatParameters(parameters: RunCommandParameter[] | undefined): string {
  return (parameters ?? []).map((p) => (p.name ? `${p.name}=${p.value}` : p.value)).join("\n");
}

function scriptParts(f: ScriptFields, errors: string[]) {
  let source: RunCommandSource;
  if (f.sourceKind === "script") {
    if (f.script.trim().length === 0) {
      errors.push("Write a script to run.");
    }
    source = { script: f.script };
  } else if (f.sourceKind === "scriptUri") {
    if (!/^https?:\/\/\S+$/i.test(f.scriptUri.trim())) {
      errors.push("The script URI must be an http:// or https:// URL.");
    }
    source = { scriptUri: f.scriptUri.trim() };
  } else {
    if (f.commandId.trim().length === 0) {
      errors.push("Choose a command document.");
    }
    source = { commandId: f.commandId.trim() };
  }
  let timeoutInSeconds: number | undefined;
  if (f.timeoutInSeconds.trim().length > 0) {
    const n = Number(f.timeoutInSeconds.trim());
    if (!Number.isInteger(n) || n < 0) {
      errors.push("The timeout must be a whole number of seconds (0 for none).");
    } else {
      timeoutInSeconds = n;
    }
  }
  const parameters = parseParameters(f.parameters);
  const protectedParameters = parseParameters(f.protectedParameters);
  return {
    source,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(protectedParameters.length > 0 ? { protectedParameters } : {}),
    ...(f.runAsUser.trim() ? { runAsUser: f.runAsUser.trim() } : {}),
    ...(timeoutInSeconds !== undefined ? { timeoutInSeconds } : {}),
  };
}

function checkName(name: string, what: string, errors: string[]) {
  if (!namePattern.test(name)) {
    errors.push(`The ${what} name must be 1-80 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'.`);
  }
}

export function buildRunCommand(f: RunCommandFields, location: string): { body: RunCommand; errors: string[] } {
  const errors: string[] = [];
  checkName(f.name, "run command", errors);
  const parts = scriptParts(f, errors);
  return { body: { location, properties: { ...parts, asyncExecution: false } }, errors };
}

export function buildFleetRun(f: FleetFields, location: string): { body: FleetRun; errors: string[] } {
  const errors: string[] = [];
  checkName(f.name, "fleet run", errors);
  const parts = scriptParts(f, errors);
  const { tags, errors: tagErrors } = parseTags(f.tags);
  errors.push(...tagErrors.map((e) => `Tags: ${e}`));
  if (!f.resourceGroup.trim() && Object.keys(tags).length === 0 && !f.scaleSet.trim()) {
    errors.push("Choose the targets: a resource group, tags or a scale set.");
  }
  for (const [label, value] of [
    ["Max concurrency", f.maxConcurrency],
    ["Max errors", f.maxErrors],
  ] as const) {
    if (value.trim() && !limitPattern.test(value.trim())) {
      errors.push(`${label} must be a count (10) or a percentage (10%).`);
    }
  }
  const targets = {
    ...(f.resourceGroup.trim() ? { resourceGroup: f.resourceGroup.trim() } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    ...(f.scaleSet.trim() ? { virtualMachineScaleSet: f.scaleSet.trim() } : {}),
  };
  return {
    body: {
      location,
      properties: {
        ...parts,
        targets,
        ...(f.maxConcurrency.trim() ? { maxConcurrency: f.maxConcurrency.trim() } : {}),
        ...(f.maxErrors.trim() ? { maxErrors: f.maxErrors.trim() } : {}),
      },
    },
    errors,
  };
}

/** A name for a re-run of `name` not taken by `existing`: name-2, name-3, ... */
export function nextRunName(name: string, existing: string[]): string {
  const base = name.replace(/-\d+$/, "");
  const taken = new Set(existing.map((n) => n.toLowerCase()));
  for (let i = 2; ; i++) {
    const candidate = `${base}-${i}`.slice(0, 80);
    if (!taken.has(candidate.toLowerCase())) {
      return candidate;
    }
  }
}
