// Sales for a chosen range of UTC days: per day (chart and table) and per
// dish (chart and table), straight from the sales read model.
import { useState } from 'preact/hooks';
import { BarChart } from '../components/bar-chart';
import { Empty, ErrorNotice, Loading } from '../components/feedback';
import { formatMoney, formatMoneys, utcDay } from '../format';
import { useQuery } from '../live';
import type { ItemSales, Money, SalesReport } from '../types';

const DAY_MS = 86_400_000;

/** The amount in `currency` of a list of per-currency amounts. */
const amountIn = (amounts: readonly Money[], currency: string): number => amounts.find((m) => m.currency === currency)?.amountMinor ?? 0;

export function SalesScreen() {
  const today = utcDay(Date.now());
  const [range, setRange] = useState({ from: utcDay(Date.now() - 6 * DAY_MS), to: today });
  const [draft, setDraft] = useState(range);
  const qs = `from=${range.from}&to=${range.to}`;
  const sales = useQuery<SalesReport>(`/stats/sales?${qs}`);
  const items = useQuery<ItemSales>(`/stats/items?${qs}`);
  const currency = sales.data?.revenue[0]?.currency ?? items.data?.items[0]?.revenue[0]?.currency ?? 'EUR';
  const money = (amountMinor: number): string => formatMoney({ amountMinor, currency });

  return (
    <div class="sales">
      <h1>Sales</h1>
      <form
        class="range-form"
        onSubmit={(e) => {
          e.preventDefault();
          setRange(draft);
        }}
      >
        <label>
          From
          <input type="date" required value={draft.from} max={draft.to} onInput={(e) => setDraft((d) => ({ ...d, from: e.currentTarget.value }))} />
        </label>
        <label>
          To
          <input type="date" required value={draft.to} min={draft.from} onInput={(e) => setDraft((d) => ({ ...d, to: e.currentTarget.value }))} />
        </label>
        <button type="submit">Show</button>
        <span class="hint">Days are UTC days.</span>
      </form>
      {sales.error !== undefined && <ErrorNotice error={sales.error} onRetry={() => void sales.refresh()} />}
      {sales.data === undefined ? (
        sales.loading && <Loading what="sales" />
      ) : (
        <>
          <p class="summary" data-testid="sales-summary">
            {sales.data.orders} orders · revenue {formatMoneys(sales.data.revenue)}
            {sales.data.cancelled > 0 && ` · ${sales.data.cancelled} cancelled after confirmation (${formatMoneys(sales.data.cancelledRevenue)})`}
          </p>
          <section aria-labelledby="daily-heading" class="panel">
            <h2 id="daily-heading">Per day</h2>
            <BarChart title={`Revenue per day in ${currency}, ${sales.data.from} to ${sales.data.to}`} bars={sales.data.daily.map((d) => ({ label: d.day.slice(5), value: amountIn(d.revenue, currency), text: money(amountIn(d.revenue, currency)) }))} />
            <div class="table-scroll">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col" class="num">
                      Orders
                    </th>
                    <th scope="col" class="num">
                      Revenue
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {sales.data.daily.map((d) => (
                    <tr key={d.day}>
                      <th scope="row">{d.day}</th>
                      <td class="num">{d.orders}</td>
                      <td class="num">{formatMoneys(d.revenue)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
      <section aria-labelledby="items-heading" class="panel">
        <h2 id="items-heading">Per dish</h2>
        {items.error !== undefined && <ErrorNotice error={items.error} onRetry={() => void items.refresh()} />}
        {items.data === undefined ? (
          items.loading && <Loading what="sales per dish" />
        ) : items.data.items.length === 0 ? (
          <Empty>No dish sold in this range.</Empty>
        ) : (
          <>
            <BarChart title={`Dishes sold, ${items.data.from} to ${items.data.to}`} slot={110}
              bars={items.data.items.slice(0, 12).map((i) => ({ label: i.name.length > 16 ? `${i.name.slice(0, 15)}…` : i.name, value: i.quantity, text: String(i.quantity) }))} />
            <div class="table-scroll">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Dish</th>
                    <th scope="col" class="num">
                      Sold
                    </th>
                    <th scope="col" class="num">
                      Revenue
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.data.items.map((i) => (
                    <tr key={i.menuItemId}>
                      <th scope="row">{i.name}</th>
                      <td class="num">{i.quantity}</td>
                      <td class="num">{formatMoneys(i.revenue)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </div>
  );
}
