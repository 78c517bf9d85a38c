// Loading, empty and error states, the same everywhere. An error always says what to do.
import type { ReactNode } from 'react';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status">
      <span className="spinner" aria-hidden /> Loading {what}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty" data-testid="empty-state">
      <strong>{title}</strong>
      {children && <div className="state-hint">{children}</div>}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <span>{message}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Card({ title, children, actions, testId }: { title: string; children: ReactNode; actions?: ReactNode; testId?: string }) {
  return (
    <section className="card" data-testid={testId}>
      <header className="card-header">
        <h2>{title}</h2>
        {actions && <div className="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Stat({ label, value, testId, hint }: { label: string; value: ReactNode; testId?: string; hint?: string }) {
  return (
    <div className="stat" title={hint}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

export function ProgressBar({ fraction, label }: { fraction: number | null; label?: string }) {
  return (
    <div className="progress" role="progressbar" aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)} aria-label={label}>
      <div className={fraction === null ? 'progress-fill indeterminate' : 'progress-fill'} style={{ width: `${Math.round((fraction ?? 0.3) * 100)}%` }} />
    </div>
  );
}
