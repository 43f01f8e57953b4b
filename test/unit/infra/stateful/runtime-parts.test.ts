// The process-manager runtime's pure parts: the deadline queue and the roles'
// settings (the co-partitioned assignment is tested in test/unit/infra).
import { DeadlineQueue, type QueuedDeadline } from '../../../../infra/stateful/deadline-queue';
import { processManagersOf, roleConfig } from '../../../../app/roles';
import { seeded } from '../../../support/http';

const entry = (fireAt: number, processId = `p-${fireAt}`): QueuedDeadline => ({ fireAt, dueAt: fireAt, partition: 0, processId, name: 'PAYMENT', epoch: 1 });

describe('deadline queue', () => {
  it('pops in firing order whatever the order of pushes, ties included', () => {
    const random = seeded(7);
    const queue = new DeadlineQueue();
    const times = Array.from({ length: 500 }, () => Math.floor(random() * 200));
    times.forEach((t, i) => queue.push(entry(t, `p-${i}`)));
    expect(queue.size).toBe(500);
    const popped: number[] = [];
    for (let e = queue.pop(); e !== undefined; e = queue.pop()) popped.push(e.fireAt);
    expect(popped).toEqual([...times].sort((a, b) => a - b));
    expect(queue.peek()).toBeUndefined();
  });

  it('hands out exactly the entries due by now and keeps the rest', () => {
    const queue = new DeadlineQueue();
    [50, 10, 30, 20, 40].forEach((t) => queue.push(entry(t)));
    expect(queue.popDue(25).map((e) => e.fireAt)).toEqual([10, 20]);
    expect(queue.popDue(25)).toEqual([]);
    expect(queue.peek()?.fireAt).toBe(30);
    expect(queue.size).toBe(3);
  });

  it('drops the entries of a partition that is no longer owned, keeping order', () => {
    const queue = new DeadlineQueue();
    const partitions: Record<number, number> = { 5: 1, 3: 0, 9: 2, 1: 1, 7: 0 };
    [5, 3, 9, 1, 7].forEach((t) => queue.push({ ...entry(t), partition: partitions[t] ?? 0 }));
    queue.retain((e) => e.partition !== 1);
    const left: number[] = [];
    for (let e = queue.pop(); e !== undefined; e = queue.pop()) left.push(e.fireAt);
    expect(left).toEqual([3, 7, 9]);
  });
});

describe('process-manager roles', () => {
  it('run fulfilment and loyalty as process-managers, the simulator on its own, all three in all', () => {
    expect(processManagersOf('all')).toEqual(['order-fulfilment', 'loyalty', 'payment-simulator']);
    expect(processManagersOf('process-managers')).toEqual(['order-fulfilment', 'loyalty']);
    expect(processManagersOf('process-manager:order-fulfilment')).toEqual(['order-fulfilment']);
    expect(processManagersOf('loyalty')).toEqual(['loyalty']);
    expect(processManagersOf('payment-simulator')).toEqual(['payment-simulator']);
    expect(processManagersOf('gateway')).toEqual([]);
    expect(roleConfig({ ROLE: 'process-manager:order-fulfilment' }).role).toBe('process-manager:order-fulfilment');
  });

  it('read the fulfilment timeouts and the simulator knobs from the environment, and refuse nonsense', () => {
    const settings = roleConfig({
      FULFILMENT_PAYMENT_TIMEOUT_MS: '8000',
      FULFILMENT_MAX_PAYMENT_REQUESTS: '2',
      PAYMENT_SIMULATOR_SEED: 'abc',
      PAYMENT_SIMULATOR_DECLINE_SHARE: '0.25',
      PAYMENT_SIMULATOR_STALL_SHARE: '0',
      PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '10-20',
    });
    expect(settings.fulfilment).toMatchObject({ paymentTimeoutMs: 8000, maxPaymentRequests: 2, refundTimeoutMs: 600_000 });
    expect(settings.simulatorSeed).toBe('abc');
    expect(settings.simulator).toMatchObject({ declineShare: 0.25, stallShare: 0, answerDelay: { minMs: 10, maxMs: 20 }, refundDelay: { minMs: 100, maxMs: 3000 } });
    expect(() => roleConfig({ PAYMENT_SIMULATOR_DECLINE_SHARE: '1.5' })).toThrow(/PAYMENT_SIMULATOR_DECLINE_SHARE/);
    expect(() => roleConfig({ PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '20' })).toThrow(/PAYMENT_SIMULATOR_ANSWER_DELAY_MS/);
    expect(() => roleConfig({ PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '30-20' })).toThrow(RangeError);
    expect(() => roleConfig({ PAYMENT_SIMULATOR_DECLINE_SHARE: '0.7', PAYMENT_SIMULATOR_STALL_SHARE: '0.5' })).toThrow(RangeError);
    expect(() => roleConfig({ FULFILMENT_PAYMENT_TIMEOUT_MS: '0' })).toThrow(/FULFILMENT_PAYMENT_TIMEOUT_MS/);
  });
});
