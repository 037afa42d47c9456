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
 * Orders resources so that each comes after everything it depends on (Kahn's algorithm, stable by name within a
 * level). A cycle (the server refuses those) leaves the rest in their given order at the end.
 */
export function orderSteps(dependencies: DeploymentDependency[]): Step[] {
  const byId = new Map(dependencies.map((d) => [d.id.toLowerCase(), d]));
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

  return dependencies
    .map((d) => ({
      id: d.id,
      name: d.resourceName,
      after: (d.dependsOn ?? []).map((x) => x.resourceName),
      level: levelOf(d.id),
    }))
    .sort((a, b) => a.level - b.level || a.name.localeCompare(b.name));
}
