// The courier's list: orders ready to pick up and those on their way, with
// dispatch and deliver where the order's state allows them.
import { command, seg } from '../api';
import { can } from '../actions';
import { Empty, ErrorNotice, Loading, useTask } from '../components/feedback';
import { formatAddress, STATUS_LABELS } from '../format';
import { useLive } from '../live';
import { courierReducer } from '../live-state';
import type { CourierOrder } from '../types';

export function CourierScreen() {
  const list = useLive<{ queue: readonly CourierOrder[] }>('/live/courier', courierReducer);
  const task = useTask();
  const act = (order: CourierOrder, label: string, path: string): void => void task.run(label, () => command(`/orders/${seg(order.orderId)}/${path}`), list.refresh);
  return (
    <section aria-labelledby="courier-heading">
      <h1 id="courier-heading">Deliveries</h1>
      <p class="sr-only" role="status" aria-live="polite">
        {task.busy ?? ''}
      </p>
      {task.error !== null && <ErrorNotice error={task.error} />}
      {list.error !== undefined && <ErrorNotice error={list.error} onRetry={() => void list.refresh()} />}
      {list.data === undefined ? (
        list.loading && <Loading what="deliveries" />
      ) : list.data.queue.length === 0 ? (
        <Empty>Nothing to deliver right now. Ready orders appear here by themselves.</Empty>
      ) : (
        <ol class="tickets" aria-label="Orders to deliver">
          {list.data.queue.map((o) => (
            <li key={o.orderId} class="ticket" data-order={o.orderId} aria-labelledby={`delivery-${o.orderId}`}>
              <div class="ticket-head">
                <h2 id={`delivery-${o.orderId}`}>Order {o.orderId.slice(0, 8)}</h2>
                <span class="badge">{STATUS_LABELS[o.status] ?? o.status}</span>
              </div>
              {o.deliveryAddress !== null && <p>{formatAddress(o.deliveryAddress)}</p>}
              <div class="button-row">
                {can(o, 'dispatch') && (
                  <button type="button" class="primary" disabled={task.busy !== null} onClick={() => act(o, 'Dispatching', 'dispatch')}>
                    Pick up and dispatch
                  </button>
                )}
                {can(o, 'deliver') && (
                  <button type="button" class="primary" disabled={task.busy !== null} onClick={() => act(o, 'Confirming delivery', 'deliver')}>
                    Confirm delivery
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
