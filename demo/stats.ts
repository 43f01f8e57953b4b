// What the demo did, counted as it goes and printed when it stops.

export const STEPS = [
  'menu items added',
  'menu items found',
  'customers signed up',
  'orders opened',
  'items added',
  'items removed',
  'abandoned before placing',
  'orders placed',
  'cancelled after placing',
  'preparations started',
  'orders ready',
  'orders dispatched',
  'orders delivered',
] as const;

export type Step = (typeof STEPS)[number];

export class DemoStats {
  readonly steps = new Map<Step, number>();
  /** Refusals and failures by `<route>: <status> <code>`: expected ones too (a cancelled order the kitchen meets, a sold-out item). */
  readonly refusals = new Map<string, number>();
  readonly startedAt = Date.now();

  count(step: Step, by = 1): void {
    this.steps.set(step, (this.steps.get(step) ?? 0) + by);
  }

  refused(what: string): void {
    this.refusals.set(what, (this.refusals.get(what) ?? 0) + 1);
  }

  get(step: Step): number {
    return this.steps.get(step) ?? 0;
  }

  /** One line of progress. */
  progress(): string {
    return `opened ${this.get('orders opened')}, placed ${this.get('orders placed')}, preparing ${this.get('preparations started')}, delivered ${this.get('orders delivered')}, cancelled ${this.get('abandoned before placing') + this.get('cancelled after placing')}`;
  }

  /** The summary, as lines of text. */
  summary(sales?: Record<string, unknown>): string[] {
    const seconds = Math.round((Date.now() - this.startedAt) / 1000);
    const lines = [`The demo ran for ${seconds} s; what it asked for and got:`];
    for (const step of STEPS) if (this.steps.has(step)) lines.push(`  ${step.padEnd(26)} ${this.get(step)}`);
    if (sales !== undefined) {
      lines.push('According to the sales read model (today):');
      for (const key of ['orders', 'confirmed', 'cancelled', 'revenue']) if (key in sales) lines.push(`  ${key.padEnd(26)} ${JSON.stringify(sales[key])}`);
    }
    if (this.refusals.size > 0) {
      lines.push('Refused or failed requests (most are the system doing its job, e.g. the kitchen meeting an order cancelled meanwhile):');
      for (const [what, n] of [...this.refusals].sort((a, b) => b[1] - a[1])) lines.push(`  ${what.padEnd(60)} ${n}`);
    }
    return lines;
  }
}
