import { FAULT_KINDS, planFaults } from '../../../../app/chaos/schedule';

const instances = ['gateway-1', 'gateway-2', 'command-processor-1', 'command-processor-2'];

describe('planFaults', () => {
  it('plans the same faults for the same seed, and others for another', () => {
    const a = planFaults({ seed: 's1', faults: 12, durationMs: 600_000, instances });
    expect(planFaults({ seed: 's1', faults: 12, durationMs: 600_000, instances })).toEqual(a);
    expect(planFaults({ seed: 's2', faults: 12, durationMs: 600_000, instances })).not.toEqual(a);
  });

  it('uses every kind once before any twice, and kills every instance once before any twice', () => {
    const plan = planFaults({ seed: 'x', faults: FAULT_KINDS.length * 4, durationMs: 600_000, instances, kinds: ['kill-role', 'broker-restart'] });
    expect(new Set(plan.slice(0, 2).map((f) => f.kind))).toEqual(new Set(['kill-role', 'broker-restart']));
    const victims = plan.filter((f) => f.kind === 'kill-role').map((f) => f.target);
    expect(new Set(victims.slice(0, instances.length))).toEqual(new Set(instances));
    expect(plan.filter((f) => f.kind === 'broker-restart').every((f) => f.target === undefined)).toBe(true);
    const all = planFaults({ seed: 'y', faults: FAULT_KINDS.length, durationMs: 600_000, instances });
    expect(new Set(all.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
  });

  it('starts every fault within the first 80 % of the duration, in order', () => {
    const plan = planFaults({ seed: 'z', faults: 20, durationMs: 100_000, instances });
    expect(plan).toHaveLength(20);
    plan.forEach((f, i) => {
      expect(f.atMs).toBeGreaterThanOrEqual(0);
      expect(f.atMs).toBeLessThanOrEqual(80_000);
      if (i > 0) expect(f.atMs).toBeGreaterThanOrEqual((plan[i - 1] as { atMs: number }).atMs);
    });
  });
});
