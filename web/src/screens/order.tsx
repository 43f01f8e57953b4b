// One order, followed live: what is in it, where it goes, and its timeline
// from placed through payment to delivered (or rejected with the reason, or
// cancelled), updated as it happens without reloading.
import { useState } from 'preact/hooks';
import { command, seg } from '../api';
import { can } from '../actions';
import { ErrorNotice, Loading, useTask } from '../components/feedback';
import { formatAddress, formatMoney, formatTime, STATUS_LABELS } from '../format';
import { useLive } from '../live';
import { orderReducer } from '../live-state';
import { href } from '../router';
import { timelineRows } from '../timeline';
import type { OrderDocument } from '../types';

function CancelForm({ busy, onCancel }: { busy: boolean; onCancel: (reason: string) => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  if (!open)
    return (
      <button type="button" class="danger" onClick={() => setOpen(true)}>
        Cancel order…
      </button>
    );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onCancel(reason);
      }}
    >
      <label>
        Why are you cancelling?
        <input required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <div class="button-row">
        <button type="submit" class="danger" disabled={busy}>
          Cancel the order
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Keep it
        </button>
      </div>
    </form>
  );
}

export function OrderScreen({ orderId }: { orderId: string }) {
  const order = useLive<OrderDocument>(`/live/orders/${seg(orderId)}`, orderReducer);
  const task = useTask();
  const doc = order.data;
  if (doc === undefined) {
    return order.error !== undefined ? <ErrorNotice error={order.error} onRetry={() => void order.refresh()} /> : <Loading what="the order" />;
  }
  const rows = timelineRows(doc);
  return (
    <div class="order-page">
      <p>
        <a href={href('orders')}>← All my orders</a>
      </p>
      <h1>Order {doc.orderId.slice(0, 8)}</h1>
      <p class={`status status-${doc.status.toLowerCase()}`} role="status" aria-live="polite" data-testid="order-status">
        {STATUS_LABELS[doc.status] ?? doc.status}
        {doc.reason !== null && <span data-testid="order-reason">: {doc.reason}</span>}
      </p>
      {order.error !== undefined && <ErrorNotice error={order.error} onRetry={() => void order.refresh()} />}
      {task.error !== null && <ErrorNotice error={task.error} />}
      <div class="order-columns">
        <section class="panel" aria-labelledby="timeline-heading">
          <h2 id="timeline-heading">Progress</h2>
          {rows.length === 0 ? (
            <p>This order has not been placed yet. {doc.status === 'OPEN' && <a href={href('menu')}>Back to the menu</a>}</p>
          ) : (
            <ol class="timeline" aria-label="Order progress">
              {rows.map((r) => (
                <li key={r.key} class={`step step-${r.state}`} data-step={r.key} data-state={r.state}>
                  <span class="step-label">{r.label}</span>
                  {r.at !== null && <time dateTime={new Date(r.at).toISOString()}>{formatTime(r.at)}</time>}
                  {r.state === 'current' && <span class="sr-only">(in progress)</span>}
                  {r.detail !== null && <span class="step-detail">{r.detail}</span>}
                </li>
              ))}
            </ol>
          )}
        </section>
        <section class="panel" aria-labelledby="contents-heading">
          <h2 id="contents-heading">Contents</h2>
          <ul class="lines">
            {doc.lines.map((l) => (
              <li key={l.menuItemId}>
                <span>
                  {l.quantity} × {l.menuItemName}
                </span>
                <span class="muted">{formatMoney(l.unitPrice)} each</span>
              </li>
            ))}
          </ul>
          <p class="total">
            Total <strong>{doc.total === null ? '—' : formatMoney(doc.total)}</strong>
          </p>
          {doc.deliveryAddress !== null && <p>Delivering to {formatAddress(doc.deliveryAddress)}</p>}
          {can(doc, 'cancel') && (
            <CancelForm busy={task.busy !== null} onCancel={(reason) => void task.run('Cancelling', () => command(`/orders/${seg(doc.orderId)}/cancel`, { reason }), order.refresh)} />
          )}
        </section>
      </div>
    </div>
  );
}
