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
  commandId: "",
  parameters: "",
  protectedParameters: "",
  runAsUser: "",
  timeoutInSeconds: "",
};

const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;
const limitPattern = /^\d+%?$/;

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses parameter lines as the CLI does: "NAME=value" is named (an environment variable), "=value" and a line without
 * "=" are positional. A line whose text before its first "=" is not a variable name is a mistake, reported in
 * <errors> (it was sent as a positional argument before, so a mistyped name silently set nothing); a protected
 * line's text is never quoted back. Blank lines are skipped.
 */
export function parseParameters(text: string, errors: string[] = [], secret = false): RunCommandParameter[] {
  const result: RunCommandParameter[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim().length === 0) {
      return;
    }
    const eq = line.indexOf("=");
    if (eq < 0) {
      result.push({ name: "", value: line });
    } else if (eq === 0) {
      result.push({ name: "", value: line.slice(1) });
    } else if (variableName.test(line.slice(0, eq))) {
      result.push({ name: line.slice(0, eq), value: line.slice(eq + 1) });
    } else {
      const what = secret ? "protected parameters" : "parameters";
      const shown = secret ? "the text before '='" : `'${line.slice(0, eq)}'`;
      errors.push(`Line ${index + 1} of the ${what}: ${shown} is not a variable name (letters, digits and '_', not starting with a digit); start the line with '=' for a positional value.`);
    }
  });
  return result;
}

/** Back to lines, for a re-run's form; a positional value with "=" in it gets the leading "=" that keeps it one. */
export function formatParameters(parameters: RunCommandParameter[] | undefined): string {
  return (parameters ?? []).map((p) => (p.name ? `${p.name}=${p.value}` : p.value.includes("=") ? `=${p.value}` : p.value)).join("\n");
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
  const parameters = parseParameters(f.parameters, errors);
  const protectedParameters = parseParameters(f.protectedParameters, errors, true);
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
