// Small building blocks shared by the pages.
import { useId, useRef, type ReactNode } from "react";
import type { ApiError } from "../api/client";
import { toneOf } from "../logic/format";

export function StateBadge({ state }: { state?: string }) {
  return <span className={`badge tone-${toneOf(state)}`}>{state || "Unknown"}</span>;
}

/** An API error exactly as the API words it, with its code. */
export function ErrorBox({ error, title }: { error: Pick<ApiError, "code" | "message"> | null | undefined; title?: string }) {
  if (!error) {
    return null;
  }
  return (
    <div className="error" role="alert">
      {title ? <strong>{title} </strong> : null}
      <span className="error-message">{error.message}</span>
      {error.code && !/^\d+$/.test(error.code) ? <span className="error-code"> ({error.code})</span> : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p className="subtitle">{subtitle}</p> : null}
      </div>
      {actions ? <div className="actions">{actions}</div> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A textarea with line numbers beside it (they scroll with the text). */
export function ScriptEditor({ value, onChange, label }: { value: string; onChange: (v: string) => void; label: string }) {
  const id = useId();
  const gutter = useRef<HTMLDivElement>(null);
  const lines = Math.max(1, value.split("\n").length);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="editor">
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lines }, (_, i) => (
            <div key={i}>{i + 1}</div>
          ))}
        </div>
        <textarea
          id={id}
          className="code"
          value={value}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          rows={Math.min(Math.max(lines + 1, 6), 24)}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) {
              gutter.current.scrollTop = e.currentTarget.scrollTop;
            }
          }}
          onKeyDown={(e) => {
            // Tab indents inside the editor; Escape then Tab leaves it (keyboard users are never trapped).
            if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && e.currentTarget.dataset.escaped !== "1") {
              e.preventDefault();
              const t = e.currentTarget;
              const start = t.selectionStart;
              const next = t.value.slice(0, start) + "  " + t.value.slice(t.selectionEnd);
              onChange(next);
              requestAnimationFrame(() => t.setSelectionRange(start + 2, start + 2));
            } else if (e.key === "Escape") {
              e.currentTarget.dataset.escaped = "1";
            } else {
              delete e.currentTarget.dataset.escaped;
            }
          }}
        />
      </div>
      <p className="hint">Runs with /bin/bash (a #! line is honoured). Tab indents; press Escape, then Tab, to leave the editor.</p>
    </div>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  hint?: string;
  placeholder?: string;
  type?: string;
  list?: string;
  required?: boolean;
  inputMode?: "numeric" | "text";
  autoComplete?: string;
  /** Room for a resource id. */
  wide?: boolean;
}) {
  const id = useId();
  const hintId = useId();
  return (
    <div className={props.wide ? "field wide" : "field"}>
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type={props.type ?? "text"}
        value={props.value}
        placeholder={props.placeholder}
        list={props.list}
        required={props.required}
        inputMode={props.inputMode}
        autoComplete={props.autoComplete ?? "off"}
        aria-describedby={props.hint ? hintId : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint ? (
        <p className="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function TextArea(props: { label: string; value: string; onChange: (v: string) => void; hint?: string; secret?: boolean; rows?: number }) {
  const id = useId();
  const hintId = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <textarea
        id={id}
        className={props.secret ? "code secret" : "code"}
        rows={props.rows ?? 3}
        value={props.value}
        spellCheck={false}
        autoComplete="off"
        aria-describedby={props.hint ? hintId : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint ? (
        <p className="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function FormErrors({ errors }: { errors: string[] }) {
  if (errors.length === 0) {
    return null;
  }
  return (
    <div className="error" role="alert">
      <ul>
        {errors.map((e) => (
          <li key={e}>{e}</li>
        ))}
      </ul>
    </div>
  );
}
