// The customer's menu: dishes by category, sold-out ones marked, and beside
// it the basket — the open order as the read model has it (lines, total),
// with the tasks its `actions` allow: add, remove, set the address, place.
import { useEffect, useState } from 'preact/hooks';
import { command, query, seg } from '../api';
import { can } from '../actions';
import { AddressForm } from '../components/address-form';
import { Empty, ErrorNotice, Loading, useTask } from '../components/feedback';
import { CATEGORY_LABELS, formatAddress, formatMoney } from '../format';
import { useLive, useQuery } from '../live';
import { menuReducer, orderReducer } from '../live-state';
import { href, navigate } from '../router';
import type { Session } from '../session';
import type { Address, Customer, Menu, MenuItem, OrderDocument, Page, OrderSummary } from '../types';

const orderKey = (subject: string): string => `restaurant.open-order.${subject}`;

/** The customer's open order: remembered in this tab, else the newest OPEN one in their list. */
function useOpenOrderId(session: Session): [string | null | undefined, (id: string | null) => void] {
  const [id, setId] = useState<string | null | undefined>(() => sessionStorage.getItem(orderKey(session.subject)) ?? undefined);
  useEffect(() => {
    if (id !== undefined) return;
    query<Page<OrderSummary>>(`/customers/${seg(session.subject)}/orders?limit=5`).then(
      (page) => setId(page.items.find((o) => o.status === 'OPEN')?.orderId ?? null),
      () => setId(null),
    );
  }, [id, session.subject]);
  const remember = (next: string | null): void => {
    if (next === null) sessionStorage.removeItem(orderKey(session.subject));
    else sessionStorage.setItem(orderKey(session.subject), next);
    setId(next);
  };
  return [id, remember];
}

function ItemCard({ item, order, busy, onAdd }: { item: MenuItem; order: OrderDocument | undefined; busy: boolean; onAdd: (item: MenuItem, quantity: number) => void }) {
  const [quantity, setQuantity] = useState(1);
  const inOrder = order?.lines.some((l) => l.menuItemId === item.menuItemId) ?? false;
  const headingId = `item-${item.menuItemId}`;
  return (
    <li class={`item-card${item.available ? '' : ' sold-out'}`} aria-labelledby={headingId} data-menu-item={item.name}>
      <div class="item-head">
        <h3 id={headingId}>{item.name}</h3>
        <span class="price">{formatMoney(item.price)}</span>
      </div>
      {item.description !== '' && <p class="description">{item.description}</p>}
      {!item.available ? (
        <p class="badge badge-sold-out">Sold out</p>
      ) : inOrder ? (
        <p class="badge">In your order</p>
      ) : (
        can(item, 'addToOrder') &&
        can(order, 'addItem') && (
          <div class="add-row">
            <label>
              Quantity
              <select value={quantity} onChange={(e) => setQuantity(Number(e.currentTarget.value))}>
                {Array.from({ length: 10 }, (_, i) => i + 1).map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" disabled={busy} onClick={() => onAdd(item, quantity)} aria-label={`Add ${item.name} to the order`}>
              Add
            </button>
          </div>
        )
      )}
    </li>
  );
}

export function MenuScreen({ session }: { session: Session }) {
  const menu = useLive<Menu>('/live/menu', menuReducer);
  const [orderId, setOrderId] = useOpenOrderId(session);
  const order = useLive<OrderDocument>(orderId ? `/live/orders/${seg(orderId)}` : null, orderReducer);
  const customer = useQuery<Customer>(`/customers/${seg(session.subject)}`);
  const task = useTask();
  const busy = task.busy !== null;
  const doc = order.data;

  // An order that is no longer open belongs on its own page, not in the basket.
  useEffect(() => {
    if (doc !== undefined && doc.status !== 'OPEN') setOrderId(null);
  }, [doc?.status]);

  const open = async (): Promise<void> => {
    const reply = await task.run('Starting an order', () => command('/orders', {}), () => undefined);
    if (reply !== undefined) {
      setOrderId(reply.aggregateId);
      await order.refresh(reply.consistencyToken);
    }
  };
  const add = (item: MenuItem, quantity: number): void =>
    void task.run(`Adding ${item.name}`, () => command(`/orders/${seg(doc?.orderId ?? '')}/items`, { menuItemId: item.menuItemId, quantity }), order.refresh);
  const remove = (menuItemId: string, name: string): void =>
    void task.run(`Removing ${name}`, () => command(`/orders/${seg(doc?.orderId ?? '')}/items/${seg(menuItemId)}/remove`), order.refresh);
  const setAddress = async (address: Address, save: boolean): Promise<void> => {
    if (doc === undefined) return;
    await task.run('Setting the delivery address', () => command(`/orders/${seg(doc.orderId)}/delivery-address`, { address }), order.refresh);
    if (save) {
      await task.run('Saving the address', () => command(`/customers/${seg(session.subject)}/addresses`, { addressId: crypto.randomUUID(), address }), customer.refresh);
    }
  };
  const place = async (): Promise<void> => {
    if (doc === undefined) return;
    const reply = await task.run('Placing the order', () => command(`/orders/${seg(doc.orderId)}/place`), order.refresh);
    if (reply !== undefined) {
      setOrderId(null);
      navigate(href('orders', doc.orderId));
    }
  };

  return (
    <div class="menu-layout">
      <section aria-labelledby="menu-heading" class="menu">
        <h1 id="menu-heading">Menu</h1>
        {menu.error !== undefined && <ErrorNotice error={menu.error} onRetry={() => void menu.refresh()} />}
        {menu.data === undefined ? (
          menu.loading && <Loading what="the menu" />
        ) : menu.data.categories.length === 0 ? (
          <Empty>The menu is empty for now.</Empty>
        ) : (
          menu.data.categories.map((c) => (
            <section key={c.category} aria-labelledby={`cat-${c.category}`} class="category">
              <h2 id={`cat-${c.category}`}>{CATEGORY_LABELS[c.category] ?? c.category}</h2>
              <ul class="items">
                {c.items.map((item) => (
                  <ItemCard key={item.menuItemId} item={item} order={doc} busy={busy} onAdd={add} />
                ))}
              </ul>
            </section>
          ))
        )}
      </section>
      <aside class="basket panel" aria-labelledby="basket-heading">
        <h2 id="basket-heading">Your order</h2>
        <p class="sr-only" role="status" aria-live="polite">
          {task.busy ?? ''}
        </p>
        {task.error !== null && <ErrorNotice error={task.error} />}
        {orderId === undefined || (orderId !== null && doc === undefined && order.loading) ? (
          <Loading what="your order" />
        ) : orderId === null || doc === undefined ? (
          <>
            <Empty>No order open.</Empty>
            <button type="button" class="primary" disabled={busy} onClick={() => void open()}>
              Start an order
            </button>
          </>
        ) : (
          <>
            {order.error !== undefined && <ErrorNotice error={order.error} onRetry={() => void order.refresh()} />}
            {doc.lines.length === 0 ? (
              <Empty>Nothing in it yet: add dishes from the menu.</Empty>
            ) : (
              <ul class="lines" aria-label="Items in your order">
                {doc.lines.map((l) => (
                  <li key={l.menuItemId}>
                    <span>
                      {l.quantity} × {l.menuItemName}
                    </span>
                    <span class="muted">{formatMoney(l.unitPrice)} each</span>
                    {can(doc, 'removeItem') && (
                      <button type="button" class="link-button" disabled={busy} onClick={() => remove(l.menuItemId, l.menuItemName)} aria-label={`Remove ${l.menuItemName}`}>
                        Remove
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            )}
            <p class="total">
              Total <strong data-testid="order-total">{doc.total === null ? '—' : formatMoney(doc.total)}</strong>
            </p>
            {doc.deliveryAddress !== null && (
              <p>
                Delivering to <span data-testid="delivery-address">{formatAddress(doc.deliveryAddress)}</span>
              </p>
            )}
            {can(doc, 'setDeliveryAddress') && doc.deliveryAddress === null && <AddressForm customer={customer.data} busy={busy} onChoose={(a, save) => void setAddress(a, save)} />}
            {can(doc, 'place') && (
              <button type="button" class="primary" disabled={busy} onClick={() => void place()}>
                Place order
              </button>
            )}
          </>
        )}
      </aside>
    </div>
  );
}
