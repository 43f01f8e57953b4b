// The kitchen board: confirmed orders, oldest first, each with how long it
// has waited (ticking), and the tasks its state allows: start preparing, mark
// ready. New orders appear by themselves.
import { command, seg } from '../api';
import { can } from '../actions';
import { Empty, ErrorNotice, Loading, useTask } from '../components/feedback';
import { formatDuration } from '../format';
import { useLiveQuery, useNow } from '../live';
import type { KitchenTicket } from '../types';

export function KitchenScreen() {
  const board = useLiveQuery<{ queue: readonly KitchenTicket[] }>('/kitchen/queue', 'kitchen');
  const task = useTask();
  const now = useNow(1000);
  // Waiting times count on from the server's figure, so this browser's clock never skews them.
  const sinceFetch = board.fetchedAt === 0 ? 0 : Math.max(0, now - board.fetchedAt);
  const act = (ticket: KitchenTicket, label: string, path: string): void => void task.run(label, () => command(`/orders/${seg(ticket.orderId)}/${path}`), board.refresh);
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
          {board.data.queue.map((t) => (
            <li key={t.orderId} class={`ticket ticket-${t.status.toLowerCase()}`} data-order={t.orderId} aria-labelledby={`ticket-${t.orderId}`}>
              <div class="ticket-head">
                <h2 id={`ticket-${t.orderId}`}>Order {t.orderId.slice(0, 8)}</h2>
                <span class="waited" title="waiting since confirmation">
                  waiting <span data-testid="waited">{formatDuration(t.waitedMs + sinceFetch)}</span>
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
