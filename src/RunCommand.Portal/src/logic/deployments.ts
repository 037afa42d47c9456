// A deployment's resources in dependency order.
import type { DeploymentDependency } from "../api/types";

export interface Step {
  id: string;
  name: string;
  /** Names of the steps this one waits for. */
  after: string[];
  /** 0 for steps with no dependency, else one more than the deepest dependency. */
  level: number;
}

/**
 * Orders resources so that each comes after everything it depends on: by depth (0 for none, else one more than the
 * deepest dependency), then by name. A cycle (the server refuses those) cannot loop.
 */
export function orderSteps(dependencies: DeploymentDependency[], resources: { id: string; resourceName: string }[] = []): Step[] {
  // ARM lists only the resources that depend on something; the others come from what they depend on and from the
  // deployment's operations.
  const byId = new Map(dependencies.map((d) => [d.id.toLowerCase(), d]));
  for (const r of [...dependencies.flatMap((d) => d.dependsOn ?? []), ...resources]) {
    if (!byId.has(r.id.toLowerCase())) {
      byId.set(r.id.toLowerCase(), { id: r.id, resourceType: "", resourceName: r.resourceName });
    }
  }
  const levels = new Map<string, number>();
  const visiting = new Set<string>();

  const levelOf = (id: string): number => {
    const key = id.toLowerCase();
    const known = levels.get(key);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(key)) {
      return 0;
    }
    visiting.add(key);
    const d = byId.get(key);
    const level = d?.dependsOn?.length ? 1 + Math.max(...d.dependsOn.map((x) => levelOf(x.id))) : 0;
    visiting.delete(key);
    levels.set(key, level);
    return level;
  };

  return [...byId.values()]
    .map((d) => ({
      id: d.id,
      name: d.resourceName,
      after: (d.dependsOn ?? []).map((x) => x.resourceName),
      level: levelOf(d.id),
    }))
    .sort((a, b) => a.level - b.level || a.name.localeCompare(b.name));
}
