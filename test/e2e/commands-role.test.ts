/**
 * ROLE=commands: the command side (gateway and command processor) in one
 * process, the smallest deployment that accepts commands. A command sent to
 * it is decided by the processor inside it, and its operations port reports
 * both halves (the processor's transaction durations too, one per round
 * under aggregate="all").
 */
import { waitFor } from '../../infra/wait-for';
import { call } from '../support/http';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

let role: RoleProcess | undefined;

afterAll(async () => {
  await role?.stop();
});

describe('ROLE=commands', () => {
  it('runs the gateway and the command processor in one process', async () => {
    role = await startRole('commands');
    const added = await call(role.url, 'POST', '/menu/items', { name: 'One-process soup', description: 'decided next door', category: 'STARTER', price: { amountMinor: 650, currency: 'EUR' } });
    expect(added.status).toBe(201);
    const itemId = added.body.aggregateId as string;
    expect(added.body.events).toEqual([expect.objectContaining({ eventType: 'MenuItemAdded', aggregateId: itemId, version: 1 })]);

    const repriced = await call(role.url, 'POST', `/menu/items/${itemId}/price`, { price: { amountMinor: 700, currency: 'EUR' } });
    expect(repriced.status).toBe(200);
    expect(repriced.body.events).toEqual([expect.objectContaining({ eventType: 'MenuItemPriceChanged', aggregateId: itemId, version: 2 })]);

    const opsUrl = role.opsUrl;
    // The transaction's duration is observed once its commit returns, which may be just after the reply was read: waited for.
    const metrics = await waitFor('the transaction duration observed', async () => {
      const text = await (await fetch(`${opsUrl}/metrics`)).text();
      return /^restaurant_command_transaction_duration_seconds_count\{aggregate="all"\} [1-9]/m.test(text) ? text : undefined;
    }, 15_000);
    expect(metrics).toMatch(/^restaurant_gateway_commands_total\{[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^restaurant_commands_processed_total\{[^}]*\} [1-9]/m);
    // One duration per committed round, under aggregate="all" (a transaction spans the aggregate types of its partitions).
    expect(Number(/^restaurant_command_transaction_duration_seconds_sum\{aggregate="all"\} (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(await role.stop()).toBe(0);
    role = undefined;
  });
});
