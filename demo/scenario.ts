// The day's traffic as data: who orders what, when, and who changes their
// mind. Pure: a seed and the options give the same journeys every time, and
// the traffic runner (traffic.ts) only carries them out.
import { seededRandom } from './random';

/** How a customer's order ends, as far as the customer decides it. */
export type CustomerExit =
  | 'place' // places the order; payment, kitchen and courier take it from there
  | 'abandon' // cancels it before placing
  | 'cancel-after-placing'; // places it, then cancels (before or after the payment; a confirmed order is refunded)

export interface PlannedLine {
  /** Index into the menu. */
  readonly item: number;
  readonly quantity: number;
}

export interface Journey {
  readonly n: number;
  /** Index into the customers. */
  readonly customer: number;
  /** When the order is opened, in ms from the start of traffic. */
  readonly atMs: number;
  readonly lines: readonly PlannedLine[];
  /** Index into `lines` of a line added and then removed again (a change of mind), or null. */
  readonly removed: number | null;
  readonly exit: CustomerExit;
  /** How long the customer takes between steps, in ms. */
  readonly thinkMs: number;
}

export interface ScenarioOptions {
  readonly seed: string;
  /** Orders opened per minute, on average (arrivals are a Poisson process). */
  readonly ordersPerMinute: number;
  readonly customers: number;
  readonly menuItems: number;
  /** Share of orders abandoned before placing (default 0.06). */
  readonly abandonShare?: number;
  /** Share of orders cancelled after placing (default 0.06). */
  readonly cancelShare?: number;
}

/** The journeys of a seed, in order, without end. */
export function* journeys(options: ScenarioOptions): Generator<Journey, never, undefined> {
  if (!(options.ordersPerMinute > 0)) throw new Error('ordersPerMinute must be above 0');
  if (options.customers < 1 || options.menuItems < 1) throw new Error('a scenario needs customers and menu items');
  const random = seededRandom(options.seed, 'journeys');
  const abandon = options.abandonShare ?? 0.06;
  const cancel = options.cancelShare ?? 0.06;
  const meanGapMs = 60_000 / options.ordersPerMinute;
  let atMs = 0;
  for (let n = 0; ; n++) {
    const distinct = Math.min(options.menuItems, random.int(1, 4));
    const items = new Set<number>();
    while (items.size < distinct) items.add(random.int(0, options.menuItems - 1));
    const lines = [...items].map((item) => ({ item, quantity: random.chance(0.75) ? 1 : random.int(2, 4) }));
    const removed = lines.length > 1 && random.chance(0.1) ? random.int(0, lines.length - 1) : null;
    const draw = random.next();
    const exit: CustomerExit = draw < abandon ? 'abandon' : draw < abandon + cancel ? 'cancel-after-placing' : 'place';
    yield { n, customer: random.int(0, options.customers - 1), atMs: Math.round(atMs), lines, removed, exit, thinkMs: random.int(100, 1500) };
    atMs += random.exponential(meanGapMs);
  }
}

/** The first `count` journeys of a seed. */
export function planJourneys(options: ScenarioOptions, count: number): Journey[] {
  const plan: Journey[] = [];
  for (const journey of journeys(options)) {
    if (plan.length >= count) break;
    plan.push(journey);
  }
  return plan;
}
