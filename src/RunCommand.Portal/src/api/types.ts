// Wire shapes of the public ARM API the portal reads (docs/ and src/RunCommand.Contracts); only the fields it uses.

export interface ArmErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorBody[];
}

export interface ResourceList<T> {
  value: T[];
  nextLink?: string;
}

export interface Subscription {
  subscriptionId: string;
  displayName?: string;
  location?: string;
}

export interface SignedInRole {
  roleName: string;
  roleDefinitionId: string;
  scope: string;
}

export interface SignedInPrincipal {
  id: string;
  name: string;
  principalType: string;
  displayName?: string;
  roles: SignedInRole[];
}

export interface Permission {
  actions?: string[];
  notActions?: string[];
}

export interface VirtualMachine {
  id: string;
  name: string;
  type?: string;
  instanceId?: string;
  location?: string;
  tags?: Record<string, string>;
  properties?: {
    vmId?: string;
    agentInstanceView?: {
      status?: string;
      lastContact?: string;
      agentVersion?: string;
      hostname?: string;
    };
  };
}

export interface ScaleSet {
  id: string;
  name: string;
  properties?: { instanceCount?: number };
}

export interface RunCommandParameter {
  name: string;
  value: string;
}

export interface InstanceView {
  executionState?: string;
  executionMessage?: string;
  exitCode?: number;
  output?: string;
  error?: string;
  startTime?: string;
  endTime?: string;
}

export interface RunCommandSource {
  script?: string;
  scriptUri?: string;
  commandId?: string;
}

export interface RunCommand {
  id?: string;
  name?: string;
  location?: string;
  properties?: {
    source?: RunCommandSource;
    parameters?: RunCommandParameter[];
    protectedParameters?: RunCommandParameter[];
    runAsUser?: string;
    timeoutInSeconds?: number;
    asyncExecution?: boolean;
    provisioningState?: string;
    instanceView?: InstanceView;
  };
}

export interface LogChunk {
  offset: number;
  data: string; // base64
  nextOffset: number;
}

export interface RunCommandLogs {
  executionId: string;
  executionState: string;
  finished: boolean;
  stdout: LogChunk;
  stderr: LogChunk;
  exitCode?: number;
}

export interface CommandDocument {
  id: string;
  label?: string;
  description?: string;
  parameters?: { name: string; type?: string; required?: boolean; defaultValue?: string }[];
}

export interface FleetTargetStatus {
  resourceId: string;
  state: string;
  exitCode?: number;
  startTime?: string;
  endTime?: string;
  output?: string;
  error?: string;
  /** Bytes of stdout the server holds (RunCommand extension); `output` is its last 4 KiB. */
  outputLength?: number;
  errorLength?: number;
  message?: string;
}

export interface FleetRun {
  id?: string;
  name?: string;
  location?: string;
  properties?: {
    targets?: { resourceGroup?: string; tags?: Record<string, string>; virtualMachineScaleSet?: string; virtualMachines?: string[] };
    source?: RunCommandSource;
    parameters?: RunCommandParameter[];
    protectedParameters?: RunCommandParameter[];
    timeoutInSeconds?: number;
    runAsUser?: string;
    maxConcurrency?: string;
    maxErrors?: string;
    provisioningState?: string;
    runCommandName?: string;
    instanceView?: {
      counts: Record<string, number>;
      targets: FleetTargetStatus[];
      startTime?: string;
      endTime?: string;
    };
  };
}

export interface DeploymentDependency {
  id: string;
  resourceType: string;
  resourceName: string;
  dependsOn?: DeploymentDependency[];
}

export interface Deployment {
  id?: string;
  name?: string;
  properties?: {
    provisioningState?: string;
    timestamp?: string;
    duration?: string;
    startTime?: string;
    endTime?: string;
    outputResources?: { id: string }[];
    dependencies?: DeploymentDependency[];
    error?: ArmErrorBody;
  };
}

export interface DeploymentOperation {
  id: string;
  operationId: string;
  properties: {
    provisioningState: string;
    timestamp?: string;
    duration?: string;
    startTime?: string;
    endTime?: string;
    statusCode?: string;
    statusMessage?: { status?: string; error?: ArmErrorBody };
    targetResource: { id: string; resourceType: string; resourceName: string };
  };
}

export interface ActivityLogEvent {
  id: string;
  caller?: string;
  authorization: { action: string; scope: string };
  operationName: { value: string };
  status: { value: string };
  subStatus?: { value: string };
  eventTimestamp: string;
  resourceGroupName?: string;
  resourceId: string;
  httpRequest?: { clientIpAddress?: string; method: string };
}

export interface Principal {
  id: string;
  name: string;
  principalType: string;
  displayName?: string;
  createdDateTime?: string;
}

export interface ApiToken {
  id: string;
  principalId: string;
  principalName?: string;
  description?: string;
  createdOn: string;
  expiresOn?: string;
  revokedOn?: string;
  token?: string;
}

export interface RoleDefinition {
  id: string;
  name: string;
  properties: { roleName?: string; description?: string; type?: string; permissions?: Permission[] };
}

export interface RoleAssignment {
  id: string;
  name: string;
  properties: { roleDefinitionId?: string; principalId?: string; principalType?: string; scope?: string; createdOn?: string };
}
