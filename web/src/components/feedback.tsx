// Loading, error and message states every screen uses, and useTask: run one
// command from a button, show it busy, report what went wrong in words, and on
// a 409 (the screen was stale) say so and refresh.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, type CommandReply } from '../api';

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNotice({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  return (
    <div class="notice notice-error" role="alert">
      <p>{error.message}</p>
      {onRetry !== undefined && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export interface Task {
  /** The task being run now (its label), or null. */
  readonly busy: string | null;
  readonly error: Error | null;
  /**
   * Runs a command; then `refresh` with its consistency token (or without one
   * after a 409, so the screen shows the state that refused it).
   */
  run(label: string, action: () => Promise<CommandReply>, refresh: (consistency?: string) => Promise<void> | void): Promise<CommandReply | undefined>;
  clear(): void;
}

export function useTask(): Task {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  return {
    busy,
    error,
    clear: () => setError(null),
    async run(label, action, refresh) {
      setBusy(label);
      setError(null);
      try {
        const reply = await action();
        await refresh(reply.consistencyToken);
        return reply;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        setError(e);
        if (e instanceof ApiError && (e.stale || e.code === 'pending')) await refresh();
        return undefined;
      } finally {
        setBusy(null);
      }
    },
  };
}
