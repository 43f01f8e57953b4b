// The customer's past orders, newest first, a page at a time.
import { seg } from '../api';
import { Empty, ErrorNotice, Loading } from '../components/feedback';
import { formatDateTime, formatMoney, STATUS_LABELS } from '../format';
import { useQuery } from '../live';
import { href } from '../router';
import type { Session } from '../session';
import type { OrderSummary, Page } from '../types';

export const HISTORY_PAGE_SIZE = 10;

export function HistoryScreen({ session, offset }: { session: Session; offset: number }) {
  const path = `/customers/${seg(session.subject)}/orders?offset=${offset}&limit=${HISTORY_PAGE_SIZE}`;
  const page = useQuery<Page<OrderSummary>>(path, { stream: `/live/customers/${seg(session.subject)}/orders?limit=1` });
  return (
    <section aria-labelledby="history-heading">
      <h1 id="history-heading">My orders</h1>
      {page.error !== undefined && <ErrorNotice error={page.error} onRetry={() => void page.refresh()} />}
      {page.data === undefined ? (
        page.loading && <Loading what="your orders" />
      ) : page.data.items.length === 0 ? (
        <Empty>
          No orders yet. <a href={href('menu')}>See the menu</a>
        </Empty>
      ) : (
        <>
          <table class="table">
            <caption class="sr-only">Your orders, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Opened</th>
                <th scope="col">Status</th>
                <th scope="col">Items</th>
                <th scope="col" class="num">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((o) => (
                <tr key={o.orderId}>
                  <td>
                    <a href={href('orders', o.orderId)}>{formatDateTime(o.openedAt)}</a>
                  </td>
                  <td>{STATUS_LABELS[o.status] ?? o.status}</td>
                  <td>{o.itemCount}</td>
                  <td class="num">{o.total === null ? '—' : formatMoney(o.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            {offset > 0 && <a href={`${href('orders')}?offset=${Math.max(0, offset - HISTORY_PAGE_SIZE)}`}>← Newer</a>}
            {page.data.nextOffset !== null && <a href={`${href('orders')}?offset=${page.data.nextOffset}`}>Older →</a>}
          </nav>
        </>
      )}
    </section>
  );
}
