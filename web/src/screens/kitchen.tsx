// The kitchen board: confirmed orders, oldest first, each with how long it
// has waited (ticking), and the tasks its state allows: start preparing, mark
// ready. New orders appear by themselves.
import { command, seg } from '../api';
import { can } from '../actions';
import { Empty, ErrorNotice, Loading, useTask } from '../components/feedback';
import { formatDuration } from '../format';
import { useLive, useNow } from '../live';
import { kitchenReducer, type SeenTicket } from '../live-state';

const KITCHEN = kitchenReducer(() => Date.now());

export function KitchenScreen() {
  const board = useLive<{ queue: readonly SeenTicket[] }>('/live/kitchen', KITCHEN);
  const task = useTask();
  const now = useNow(1000);
  const act = (ticket: SeenTicket, label: string, path: string): void => void task.run(label, () => command(`/orders/${seg(ticket.orderId)}/${path}`), board.refresh);
  return (
    <section aria-labelledby="kitchen-heading">
      <h1 id="kitchen-heading">Kitchen board</h1>
      <p class="sr-only" role="status" aria-live="polite">
        {task.busy ?? ''}
      </p>
      {task.error !== null && <ErrorNotice error={task.error} />}
      {board.error !== undefined && <ErrorNotice error={board.error} onRetry={() => void board.refresh()} />}
      {board.data === undefined ? (
        board.loading && <Loading what="the kitchen board" />
      ) : board.data.queue.length === 0 ? (
        <Empty>No orders waiting. New ones appear here by themselves.</Empty>
      ) : (
        <ol class="tickets" aria-label="Orders to cook, oldest first">
          {/* Waiting times count on from the server's figure as received, so this browser's clock never skews them. */}
          {board.data.queue.map((t) => (
            <li key={t.orderId} class={`ticket ticket-${t.status.toLowerCase()}`} data-order={t.orderId} aria-labelledby={`ticket-${t.orderId}`}>
              <div class="ticket-head">
                <h2 id={`ticket-${t.orderId}`}>Order {t.orderId.slice(0, 8)}</h2>
                <span class="waited" title="waiting since confirmation">
                  waiting <span data-testid="waited">{formatDuration(t.waitedMs + Math.max(0, now - t.seenAt))}</span>
                </span>
              </div>
              <p class="badge">{t.status === 'PREPARING' ? 'Preparing' : 'To start'}</p>
              <ul class="lines">
                {t.lines.map((l) => (
                  <li key={l.menuItemId}>
                    <strong>{l.quantity} ×</strong> {l.menuItemName}
                  </li>
                ))}
              </ul>
              <div class="button-row">
                {can(t, 'startPreparation') && (
                  <button type="button" class="primary" disabled={task.busy !== null} onClick={() => act(t, 'Starting preparation', 'start-preparation')}>
                    Start preparing
                  </button>
                )}
                {can(t, 'markReady') && (
                  <button type="button" class="primary" disabled={task.busy !== null} onClick={() => act(t, 'Marking ready', 'ready')}>
                    Mark ready
                  </button>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
