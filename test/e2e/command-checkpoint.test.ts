/**
 * The command processor's position travels with its outputs: each transaction
 * writes a CommandCheckpoint into the snapshot partition, and a restarted
 * processor resumes from it. Here the group's committed offsets are reset to
 * the very start while the processor is stopped (as someone might with
 * kafka-consumer-groups): nothing is decided twice.
 */
import { DEFAULT_GROUP } from '../../producers/command-processor/processor';
import { COMMAND_REPLIES_TOPIC, topicCatalog } from '../../schemas/topics';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { byAggregate, readEvents } from '../support/events';
import { testKafka, withAdmin } from '../support/kafka';
import { call } from '../support/http';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

const kafka = testKafka('e2e-command-checkpoint');
const roles: RoleProcess[] = [];

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
});

async function openOrder(gateway: string, customerId: string): Promise<{ orderId: string; commandId: string }> {
  const r = await call(gateway, 'POST', '/orders', { customerId });
  expect(r.status).toBe(201);
  return { orderId: r.body.aggregateId as string, commandId: r.body.commandId as string };
}

describe("the command processor's checkpoint", () => {
  it("is what a restarted processor resumes from, not the group's committed offsets", async () => {
    const first = await startRole('command-processor');
    roles.push(first);
    const gateway = await startRole('gateway');
    roles.push(gateway);
    const opened: Array<{ orderId: string; commandId: string }> = [];
    for (let i = 0; i < 30; i += 1) opened.push(await openOrder(gateway.url, `checkpoint-customer-${i}`));

    expect(await first.stop()).toBe(0);
    const commandTopics = topicCatalog().topics.filter((t) => t.role === 'commands').map((t) => t.name);
    await withAdmin(kafka, async (admin) => {
      for (const topic of commandTopics) await admin.resetOffsets({ groupId: DEFAULT_GROUP, topic, earliest: true });
      const reset = await admin.fetchOffsets({ groupId: DEFAULT_GROUP, topics: commandTopics });
      // Really reset: the group now says nothing has been decided yet.
      expect(reset.flatMap((t) => t.partitions.map((p) => Number(p.offset))).every((o) => o <= 0)).toBe(true);
    });

    roles.push(await startRole('command-processor'));
    // The restarted processor decides new commands (so it has caught up past everything before them).
    const after = await openOrder(gateway.url, 'checkpoint-customer-after');

    const ours = new Set([...opened, after].map((o) => o.orderId));
    const events = (await readEvents(kafka, 'restaurant.order.events')).filter((e) => ours.has(e.metadata.aggregateId));
    const streams = byAggregate(events);
    expect([...ours].map((id) => [id, (streams.get(id) ?? []).map((e) => `${e.type}@${e.metadata.version}`)])).toEqual(
      [...ours].map((id) => [id, ['OrderOpened@1']]),
    );
    // Not even an identical re-write: each event is in the topic once.
    expect(events).toHaveLength(ours.size);

    const commandIds = new Set([...opened, after].map((o) => o.commandId));
    const replies = new Map<string, number>();
    await readToEnd(kafka, [{ topic: COMMAND_REPLIES_TOPIC }], ({ message }) => {
      const key = message.key?.toString() ?? '';
      if (commandIds.has(key)) replies.set(key, (replies.get(key) ?? 0) + 1);
    });
    expect([...commandIds].map((id) => replies.get(id) ?? 0)).toEqual([...commandIds].map(() => 1));
  });
});
