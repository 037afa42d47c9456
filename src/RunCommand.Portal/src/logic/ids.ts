// ARM resource ids of machines and run commands, and the API paths built from them.

/** A VM, or an instance of a scale set. */
export interface MachineRef {
  subscription: string;
  resourceGroup: string;
  /** VM name, or null for a scale-set instance. */
  vmName: string | null;
  scaleSet: string | null;
  instanceId: string | null;
}

const vmPattern = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i;
const instancePattern =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/([^/]+)\/virtualMachines\/([^/]+)$/i;

/** The machine a resource id names (a VM or a scale-set instance), or null for anything else. */
export function parseMachineId(id: string): MachineRef | null {
  const vm = vmPattern.exec(id);
  if (vm) {
    return { subscription: vm[1]!, resourceGroup: vm[2]!, vmName: vm[3]!, scaleSet: null, instanceId: null };
  }
  const instance = instancePattern.exec(id);
  if (instance) {
    return { subscription: instance[1]!, resourceGroup: instance[2]!, vmName: null, scaleSet: instance[3]!, instanceId: instance[4]! };
  }
  return null;
}

const e = encodeURIComponent;

/** The machine's resource path (its id), with each name escaped. */
export function machinePath(m: MachineRef): string {
  const rg = `/subscriptions/${e(m.subscription)}/resourceGroups/${e(m.resourceGroup)}/providers/Microsoft.Compute/`;
  return m.scaleSet !== null ? `${rg}virtualMachineScaleSets/${e(m.scaleSet)}/virtualMachines/${e(m.instanceId ?? "")}` : `${rg}virtualMachines/${e(m.vmName ?? "")}`;
}

export function runCommandPath(m: MachineRef, name: string): string {
  return `${machinePath(m)}/runCommands/${e(name)}`;
}

/** What people call the machine: "web1", or "web-ss instance 3". */
export function machineLabel(m: MachineRef): string {
  return m.scaleSet !== null ? `${m.scaleSet} instance ${m.instanceId}` : (m.vmName ?? "");
}

/** The last segment of a resource id. */
export function lastSegment(id: string): string {
  const parts = id.split("/").filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? id;
}

/** The instance list of a scale set, from its id. */
export function relativeScaleSetInstances(scaleSetId: string): string {
  return `${scaleSetId}/virtualMachines`;
}
