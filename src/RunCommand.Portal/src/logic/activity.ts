// The activity log's OData-style $filter, as Azure Monitor takes it.

export function activityFilter(f: { since: Date; resourceGroup?: string; caller?: string }): string {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const parts = [`eventTimestamp ge ${quote(f.since.toISOString())}`];
  if (f.resourceGroup?.trim()) {
    parts.push(`resourceGroupName eq ${quote(f.resourceGroup.trim())}`);
  }
  if (f.caller?.trim()) {
    parts.push(`caller eq ${quote(f.caller.trim())}`);
  }
  return parts.join(" and ");
}
