// Filtering of the machine list by resource group and tag.
import type { VirtualMachine } from "../api/types";
import { parseMachineId } from "./ids";

export interface MachineFilter {
  /** Resource group, case-insensitive; "" for all. */
  resourceGroup: string;
  /** "key" (has the tag) or "key=value"; "" for all. */
  tag: string;
}

/** Parses "key=value" or "key"; null for an empty or malformed filter. */
export function parseTagFilter(text: string): { key: string; value: string | null } | null {
  const trimmed = text.trim();
  if (trimmed.length === 0) {
    return null;
  }
  const at = trimmed.indexOf("=");
  if (at === 0) {
    return null;
  }
  return at < 0 ? { key: trimmed, value: null } : { key: trimmed.slice(0, at).trim(), value: trimmed.slice(at + 1).trim() };
}

export function matchesFilter(vm: VirtualMachine, filter: MachineFilter): boolean {
  const ref = parseMachineId(vm.id);
  if (filter.resourceGroup && ref?.resourceGroup.toLowerCase() !== filter.resourceGroup.toLowerCase()) {
    return false;
  }
  const tag = parseTagFilter(filter.tag);
  if (tag) {
    const entry = Object.entries(vm.tags ?? {}).find(([k]) => k.toLowerCase() === tag.key.toLowerCase());
    if (!entry || (tag.value !== null && entry[1] !== tag.value)) {
      return false;
    }
  }
  return true;
}

/** Resource groups of the machines, sorted, each once (case-insensitive). */
export function resourceGroupsOf(vms: VirtualMachine[]): string[] {
  const seen = new Map<string, string>();
  for (const vm of vms) {
    const rg = parseMachineId(vm.id)?.resourceGroup;
    if (rg && !seen.has(rg.toLowerCase())) {
      seen.set(rg.toLowerCase(), rg);
    }
  }
  return [...seen.values()].sort((a, b) => a.localeCompare(b));
}

/** Parses "k=v, k2=v2" (commas or spaces) into tags; errors name each bad entry. */
export function parseTags(text: string): { tags: Record<string, string>; errors: string[] } {
  const tags: Record<string, string> = {};
  const errors: string[] = [];
  for (const part of text.split(/[,\s]+/).filter((p) => p.length > 0)) {
    const at = part.indexOf("=");
    if (at <= 0) {
      errors.push(`'${part}' is not key=value.`);
    } else {
      tags[part.slice(0, at)] = part.slice(at + 1);
    }
  }
  return { tags, errors };
}
