// The "what runs" part of the run command and fleet run forms: source, parameters, run-as user, timeout.
import { useId } from "react";
import { ApiVersions } from "../api/client";
import type { CommandDocument } from "../api/types";
import { usePoll, useSession } from "../hooks";
import type { ScriptFields, SourceKind } from "../logic/runCommandForm";
import { ScriptEditor, TextArea, TextField } from "./ui";

export function ScriptFieldsEditor<T extends ScriptFields>({ fields, set }: { fields: T; set: (patch: Partial<ScriptFields>) => void }) {
  const { api, subscription, location } = useSession();
  const documents = usePoll(
    (signal) =>
      api.list<CommandDocument>(
        `/subscriptions/${encodeURIComponent(subscription)}/providers/Microsoft.Compute/locations/${encodeURIComponent(location)}/runCommands`,
        ApiVersions.compute,
        signal,
      ),
    0,
    [api, subscription, location],
  );
  const sourceName = useId();
  const documentId = useId();
  const kinds: [SourceKind, string][] = [
    ["script", "Inline script"],
    ["scriptUri", "Script URI"],
    ["commandId", "Command document"],
  ];
  // RunShellScript runs the script lines given with it, which only the action API carries: a run command refuses it,
  // so it is not offered here (an inline script does the same).
  const runnable = (documents.data ?? (fields.commandId ? [{ id: fields.commandId }] : [])).filter((d) => d.id !== "RunShellScript");
  const selected = documents.data?.find((d) => d.id === fields.commandId);
  return (
    <>
      <fieldset className="field">
        <legend>What runs</legend>
        <div className="segmented">
          {kinds.map(([kind, label]) => (
            <label key={kind}>
              <input type="radio" name={sourceName} value={kind} checked={fields.sourceKind === kind} onChange={() => set({ sourceKind: kind })} />
              {label}
            </label>
          ))}
        </div>
      </fieldset>
      {fields.sourceKind === "script" ? <ScriptEditor label="Script" value={fields.script} onChange={(script) => set({ script })} /> : null}
      {fields.sourceKind === "scriptUri" ? (
        <TextField
          label="Script URI"
          value={fields.scriptUri}
          onChange={(scriptUri) => set({ scriptUri })}
          placeholder="https://example.blob.core.windows.net/scripts/run.sh?<SAS>"
          hint="The agent downloads it. Its query (a SAS) is kept encrypted and never shown again."
        />
      ) : null}
      {fields.sourceKind === "commandId" ? (
        <div className="field">
          <label htmlFor={documentId}>Command document</label>
          <select id={documentId} value={fields.commandId} onChange={(e) => set({ commandId: e.target.value })}>
            <option value="">Choose a document…</option>
            {runnable.map((d) => (
              <option key={d.id} value={d.id}>
                {d.label ? `${d.id}: ${d.label}` : d.id}
              </option>
            ))}
          </select>
          {selected?.description ? <p className="hint">{selected.description}</p> : null}
          {selected?.parameters?.length ? (
            <p className="hint">Parameters: {selected.parameters.map((p) => `${p.name}${p.required ? " (required)" : ""}`).join(", ")}</p>
          ) : null}
          {documents.error ? <p className="hint">The documents could not be listed: {documents.error.message}</p> : null}
        </div>
      ) : null}
      <div className="grid-2">
        <TextArea
          label="Parameters"
          value={fields.parameters}
          onChange={(parameters) => set({ parameters })}
          hint="One per line: NAME=value becomes an environment variable, a bare value a positional argument ($1, $2, …)."
        />
        <TextArea
          label="Protected parameters"
          secret
          value={fields.protectedParameters}
          onChange={(protectedParameters) => set({ protectedParameters })}
          hint="Same form; stored encrypted, passed only to the script, never shown again."
        />
      </div>
      <div className="grid-2">
        <TextField label="Run as user" value={fields.runAsUser} onChange={(runAsUser) => set({ runAsUser })} hint="Empty: the agent's user (root)." />
        <TextField
          label="Timeout (seconds)"
          value={fields.timeoutInSeconds}
          inputMode="numeric"
          onChange={(timeoutInSeconds) => set({ timeoutInSeconds })}
          hint="Empty or 0: no limit. On expiry the whole process group is stopped."
        />
      </div>
    </>
  );
}
