import { planJourneys, type ScenarioOptions } from '../../../demo/scenario';
import { demoCustomers, DEMO_MENU } from '../../../demo/seed-data';
import { seededRandom } from '../../../demo/random';

const options: ScenarioOptions = { seed: 'unit', ordersPerMinute: 60, customers: 40, menuItems: DEMO_MENU.length };

describe("the demo's scenario", () => {
  it('is the same for the same seed and different for another', () => {
    expect(planJourneys(options, 200)).toEqual(planJourneys(options, 200));
    expect(planJourneys({ ...options, seed: 'other' }, 200)).not.toEqual(planJourneys(options, 200));
  });

  it('opens orders at the configured rate, on average', () => {
    const plan = planJourneys(options, 2000);
    const last = plan[plan.length - 1];
    const perMinute = (plan.length - 1) / ((last?.atMs ?? 0) / 60_000);
    expect(perMinute).toBeGreaterThan(54);
    expect(perMinute).toBeLessThan(66);
    for (let i = 1; i < plan.length; i++) expect(plan[i]?.atMs).toBeGreaterThanOrEqual(plan[i - 1]?.atMs ?? 0);
  });

  it('mostly places orders, with a few abandoned and a few cancelled after placing', () => {
    const plan = planJourneys(options, 2000);
    const share = (exit: string): number => plan.filter((j) => j.exit === exit).length / plan.length;
    expect(share('abandon')).toBeGreaterThan(0.03);
    expect(share('abandon')).toBeLessThan(0.09);
    expect(share('cancel-after-placing')).toBeGreaterThan(0.03);
    expect(share('cancel-after-placing')).toBeLessThan(0.09);
    expect(share('place')).toBeGreaterThan(0.82);
  });

  it('orders real menu items, each at most once per order, in quantities the gateway accepts', () => {
    for (const j of planJourneys(options, 500)) {
      expect(j.lines.length).toBeGreaterThanOrEqual(1);
      expect(j.lines.length).toBeLessThanOrEqual(4);
      expect(new Set(j.lines.map((l) => l.item)).size).toBe(j.lines.length);
      for (const line of j.lines) {
        expect(line.item).toBeGreaterThanOrEqual(0);
        expect(line.item).toBeLessThan(DEMO_MENU.length);
        expect(line.quantity).toBeGreaterThanOrEqual(1);
        expect(line.quantity).toBeLessThanOrEqual(99);
      }
      if (j.removed !== null) expect(j.lines.length).toBeGreaterThan(1);
      expect(j.customer).toBeLessThan(options.customers);
    }
  });

  it('refuses a rate of zero', () => {
    expect(() => planJourneys({ ...options, ordersPerMinute: 0 }, 1)).toThrow(/ordersPerMinute/);
  });
});

describe("the demo's customers", () => {
  it('have unique e-mail addresses for a seed, and the same ones again for the same seed', () => {
    const a = demoCustomers(seededRandom('s', 'customers'), 100, 'Friday Night!');
    expect(new Set(a.map((c) => c.email)).size).toBe(100);
    expect(demoCustomers(seededRandom('s', 'customers'), 100, 'Friday Night!')).toEqual(a);
    for (const c of a) {
      expect(c.email).toMatch(/^[a-z0-9.-]+@friday-night\.demo\.example$/);
      expect(c.address.country).toBe('NL');
    }
  });
});
