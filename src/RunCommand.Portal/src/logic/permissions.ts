// What the caller may do, from ARM's permissions answer ({actions, notActions} per role held at a scope).
// The server checks every request anyway; this only hides buttons that would earn a 403.
import type { Permission } from "../api/types";

/** ARM action matching: '*' matches any run of characters (including '/'), case-insensitive. */
export function actionMatches(pattern: string, action: string): boolean {
  if (pattern === "*") {
    return true;
  }
  const escaped = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`, "i").test(action);
}

/** True when some role grants the action: one of its actions matches and none of its notActions does. */
export function isGranted(permissions: Permission[], action: string): boolean {
  return permissions.some(
    (p) => (p.actions ?? []).some((a) => actionMatches(a, action)) && !(p.notActions ?? []).some((n) => actionMatches(n, action)),
  );
}

export const Actions = {
  runCommandsWrite: "Microsoft.Compute/virtualMachines/runCommands/write",
  runCommandsDelete: "Microsoft.Compute/virtualMachines/runCommands/delete",
  scaleSetRunCommandsWrite: "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write",
  scaleSetRunCommandsDelete: "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/delete",
  fleetRunsWrite: "RunCommand.Fleet/runs/write",
  fleetRunsCancel: "RunCommand.Fleet/runs/cancel/action",
  deploymentsCancel: "Microsoft.Resources/deployments/cancel/action",
  principalsRead: "Microsoft.Authorization/principals/read",
  principalsWrite: "Microsoft.Authorization/principals/write",
  tokensRead: "Microsoft.Authorization/tokens/read",
  tokensWrite: "Microsoft.Authorization/tokens/write",
  tokensDelete: "Microsoft.Authorization/tokens/delete",
  roleAssignmentsRead: "Microsoft.Authorization/roleAssignments/read",
  roleAssignmentsWrite: "Microsoft.Authorization/roleAssignments/write",
  roleAssignmentsDelete: "Microsoft.Authorization/roleAssignments/delete",
  activityLogRead: "Microsoft.Insights/eventtypes/values/read",
} as const;
