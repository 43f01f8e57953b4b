// Menu management: add a dish, and per dish the tasks its state allows —
// change the price, mark sold out or available again, remove it.
import { useState } from 'preact/hooks';
import { command, seg } from '../api';
import { can } from '../actions';
import { Empty, ErrorNotice, Loading, useTask, type Task } from '../components/feedback';
import { CATEGORY_LABELS, formatMoney, parseAmount } from '../format';
import { useLive } from '../live';
import { menuReducer } from '../live-state';
import { CATEGORIES, type Menu, type MenuItem } from '../types';

const CURRENCY = 'EUR';

function AddItemForm({ task, refresh }: { task: Task; refresh: (c?: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [category, setCategory] = useState<string>('MAIN');
  const [price, setPrice] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const amountMinor = parseAmount(price, CURRENCY);
    if (amountMinor === undefined) return setProblem('Enter the price as an amount such as 12.50.');
    setProblem(null);
    const reply = await task.run(`Adding ${name}`, () => command('/menu/items', { name, description, category, price: { amountMinor, currency: CURRENCY } }), refresh);
    if (reply !== undefined) {
      setName('');
      setDescription('');
      setPrice('');
    }
  };
  return (
    <form class="panel add-item" onSubmit={(e) => void submit(e)} aria-labelledby="add-heading">
      <h2 id="add-heading">Add a dish</h2>
      <label>
        Name
        <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Description
        <input maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      <label>
        Category
        <select value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
          {CATEGORIES.map((c) => (
            <option key={c} value={c}>
              {CATEGORY_LABELS[c]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Price ({CURRENCY})
        <input required inputMode="decimal" value={price} aria-invalid={problem !== null} onInput={(e) => setPrice(e.currentTarget.value)} />
      </label>
      {problem !== null && (
        <p class="field-problem" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" class="primary" disabled={task.busy !== null}>
        Add to the menu
      </button>
    </form>
  );
}

function ItemRow({ item, task, refresh }: { item: MenuItem; task: Task; refresh: (c?: string) => Promise<void> }) {
  const [price, setPrice] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const path = `/menu/items/${seg(item.menuItemId)}`;
  const busy = task.busy !== null;
  const changePrice = (e: Event): void => {
    e.preventDefault();
    const amountMinor = parseAmount(price, item.price.currency);
    if (amountMinor === undefined) return setProblem('Enter an amount such as 12.50.');
    setProblem(null);
    void task.run(`Changing the price of ${item.name}`, () => command(`${path}/price`, { price: { amountMinor, currency: item.price.currency } }), refresh).then(() => setPrice(''));
  };
  return (
    <tr data-menu-item={item.name}>
      <th scope="row">
        {item.name}
        <span class="muted block">{CATEGORY_LABELS[item.category] ?? item.category}</span>
      </th>
      <td class="num">{formatMoney(item.price)}</td>
      <td>{item.available ? 'Available' : <span class="badge badge-sold-out">Sold out</span>}</td>
      <td>
        <div class="row-actions">
          {can(item, 'changePrice') && (
            <form class="inline-form" onSubmit={changePrice}>
              <label>
                <span class="sr-only">New price of {item.name}</span>
                <input inputMode="decimal" required placeholder="new price" size={8} value={price} aria-invalid={problem !== null} onInput={(e) => setPrice(e.currentTarget.value)} />
              </label>
              <button type="submit" disabled={busy}>
                Change price
              </button>
              {problem !== null && (
                <span class="field-problem" role="alert">
                  {problem}
                </span>
              )}
            </form>
          )}
          {can(item, 'markSoldOut') && (
            <button type="button" disabled={busy} aria-label={`Mark ${item.name} sold out`} onClick={() => void task.run(`Marking ${item.name} sold out`, () => command(`${path}/sold-out`), refresh)}>
              Mark sold out
            </button>
          )}
          {can(item, 'markAvailable') && (
            <button type="button" disabled={busy} aria-label={`Mark ${item.name} available`} onClick={() => void task.run(`Marking ${item.name} available`, () => command(`${path}/available`), refresh)}>
              Mark available
            </button>
          )}
          {can(item, 'remove') && (
            <button
              type="button"
              class="danger"
              disabled={busy}
              aria-label={`Remove ${item.name} from the menu`}
              onClick={() => {
                if (confirm(`Remove ${item.name} from the menu?`)) void task.run(`Removing ${item.name}`, () => command(`${path}/remove`), refresh);
              }}
            >
              Remove
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

export function ManageMenuScreen() {
  const menu = useLive<Menu>('/live/menu', menuReducer);
  const task = useTask();
  const items = menu.data?.categories.flatMap((c) => c.items) ?? [];
  return (
    <div class="manage">
      <h1>Menu management</h1>
      <p class="sr-only" role="status" aria-live="polite">
        {task.busy ?? ''}
      </p>
      {task.error !== null && <ErrorNotice error={task.error} />}
      <AddItemForm task={task} refresh={menu.refresh} />
      <section aria-labelledby="dishes-heading">
        <h2 id="dishes-heading">Dishes</h2>
        {menu.error !== undefined && <ErrorNotice error={menu.error} onRetry={() => void menu.refresh()} />}
        {menu.data === undefined ? (
          menu.loading && <Loading what="the menu" />
        ) : items.length === 0 ? (
          <Empty>No dishes yet: add the first one above.</Empty>
        ) : (
          <div class="table-scroll">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">Dish</th>
                  <th scope="col" class="num">
                    Price
                  </th>
                  <th scope="col">Availability</th>
                  <th scope="col">Tasks</th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <ItemRow key={item.menuItemId} item={item} task={task} refresh={menu.refresh} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
