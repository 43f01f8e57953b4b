// Where a placed order without an outcome stopped (docs/chaos.md "Orders
// without an outcome"). The verifier names such orders from the events topics
// alone, which cannot tell whether order fulfilment never consumed the payment
// result, consumed it but its command never reached the processor, or the
// processor never decided (or refused) that command. This reads the rest of the
// order's trail once the log is quiet: order fulfilment's commands for it on
// restaurant.order.commands, the processor's replies to them, order
// fulfilment's latest state on its changelog, and the processor's latest state
// of the aggregate (its version and the replies it remembers). `orderTrail` is
// pure (unit-tested); `readOrderTrails` reads the topics.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { fulfilmentIds, FULFILMENT_ACTOR } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { CommandMetadata, CommandReply, OrderFulfilmentState } from '../../schemas/generated/types';
import { changelogTopicName, COMMAND_REPLIES_TOPIC, topicName } from '../../schemas/topics';
import type { LoggedEvent } from './log-reader';

/** A record of one of the trail's topics, decoded. */
export interface TrailRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** The record's name, e.g. ConfirmOrder, CommandReply, OrderFulfilmentState, OrderSnapshot. */
  readonly type: string;
  readonly value: Record<string, unknown>;
}

export const TRAIL_TOPICS = {
  commands: topicName('order', 'commands'),
  replies: COMMAND_REPLIES_TOPIC,
  fulfilment: changelogTopicName('order-fulfilment'),
  snapshots: topicName('order', 'snapshots'),
} as const;

const FULFILMENT_COMMANDS = ['ConfirmOrder', 'RejectOrder', 'CancelOrder'] as const;
type FulfilmentCommandType = (typeof FULFILMENT_COMMANDS)[number];

/** The command order fulfilment has emitted once in a status (the one that ends it). */
const COMMAND_OF_STATUS: Partial<Record<string, FulfilmentCommandType>> = { CONFIRMED: 'ConfirmOrder', REJECTED: 'RejectOrder', TIMED_OUT: 'CancelOrder' };

const at = (r: { readonly topic: string; readonly partition: number; readonly offset: number }): string => `${r.topic}/${r.partition}@${r.offset}`;
const iso = (ms: number): string => new Date(ms).toISOString();
const latest = (records: readonly TrailRecord[]): TrailRecord | undefined => records.reduce<TrailRecord | undefined>((last, r) => (last === undefined || r.offset > last.offset ? r : last), undefined);

/** The trail of one order: what each step left, and a line naming where it stopped. */
export function orderTrail(orderId: string, records: readonly TrailRecord[], events: readonly LoggedEvent[]): { readonly stopped: string; readonly lines: readonly string[] } {
  const ids = new Map(FULFILMENT_COMMANDS.map((type) => [fulfilmentIds.message(orderId, type), type] as const));
  const commands = records.filter((r) => r.topic === TRAIL_TOPICS.commands && (r.value.metadata as CommandMetadata | undefined)?.aggregateId === orderId);
  const replies = records.filter((r) => r.topic === TRAIL_TOPICS.replies && (r.value as unknown as CommandReply).aggregateId === orderId);
  const state = latest(records.filter((r) => r.topic === TRAIL_TOPICS.fulfilment && r.key === orderId));
  const snapshot = latest(records.filter((r) => r.topic === TRAIL_TOPICS.snapshots && r.key === orderId));
  const results = events.filter((e) => e.topic === 'restaurant.payment.results' && e.metadata.aggregateId === orderId);
  const orderEvents = events.filter((e) => e.topic === 'restaurant.order.events' && e.metadata.aggregateId === orderId).sort((a, b) => a.metadata.version - b.metadata.version);

  const lines: string[] = [];
  lines.push(`order events: ${orderEvents.map((e) => `${e.type} v${e.metadata.version} at ${e.partition}@${e.offset} (${iso(e.metadata.occurredAt)})`).join(', ') || 'none'}`);
  lines.push(`payment results: ${results.map((e) => `${e.type} ${e.metadata.eventId} at ${e.partition}@${e.offset} (${iso(e.metadata.occurredAt)})`).join(', ') || 'none'}`);
  const fulfilmentCommands = commands.filter((c) => ids.has((c.value.metadata as CommandMetadata).commandId) || (c.value.metadata as CommandMetadata).actor?.subject === FULFILMENT_ACTOR);
  lines.push(`order fulfilment's commands: ${fulfilmentCommands.map((c) => `${c.type} ${(c.value.metadata as CommandMetadata).commandId} at ${at(c)}`).join(', ') || 'none'}`);
  lines.push(`replies to them: ${replies.filter((r) => ids.has(r.key)).map((r) => describeReply(r.value as unknown as CommandReply, at(r))).join(', ') || 'none'}`);
  const fs = state?.value as unknown as OrderFulfilmentState | undefined;
  if (fs === undefined) lines.push('order fulfilment state: none on its changelog');
  else
    lines.push(
      `order fulfilment state v${fs.version} at ${at(state as TrailRecord)}: ${fs.status}, payment ${fs.paymentAttempts} request(s)${fs.paymentAuthorized ? ', authorized' : ''}, ` +
        `emitted [${fs.emitted.map((id) => ids.get(id) ?? id).join(', ')}], handled [${fs.handled.join(', ')}], deadlines [${fs.deadlines.map((d) => `${d.name} ${iso(d.dueAt)}`).join(', ')}], ` +
        `failures [${fs.failures.map((f) => `${f.step}: ${f.reason}`).join('; ')}], updated ${fs.updatedAt === null ? '-' : iso(fs.updatedAt)}`,
    );
  const remembered = ((snapshot?.value.recentCommands ?? []) as readonly CommandReply[]).filter((r) => ids.has(r.commandId));
  if (snapshot === undefined) lines.push("processor's state of the order: none on its snapshots topic");
  else lines.push(`processor's state of the order at ${at(snapshot)}: version ${String(snapshot.value.version)}, remembers ${remembered.map((r) => describeReply(r, 'its state')).join(', ') || "none of order fulfilment's commands"}`);

  return { stopped: whereStopped({ orderId, fs, results, fulfilmentCommands, replies, remembered, ids }), lines };
}

function describeReply(r: CommandReply, where: string): string {
  return `${r.commandType} ${r.status}${r.rejectionCode === null ? '' : ` ${r.rejectionCode} (${r.rejectionMessage ?? ''})`} v${r.aggregateVersion} in ${where}`;
}

function whereStopped(t: {
  readonly orderId: string;
  readonly fs: OrderFulfilmentState | undefined;
  readonly results: readonly LoggedEvent[];
  readonly fulfilmentCommands: readonly TrailRecord[];
  readonly replies: readonly TrailRecord[];
  readonly remembered: readonly CommandReply[];
  readonly ids: ReadonlyMap<string, FulfilmentCommandType>;
}): string {
  const { fs } = t;
  if (fs === undefined) return 'order fulfilment has no state for the order: its OrderPlaced was never decided, or its state is gone';
  const unread = t.results.filter((e) => !fs.handled.includes(e.metadata.eventId));
  if (fs.status === 'AWAITING_PAYMENT') {
    const pending = fs.deadlines.map((d) => `${d.name} due ${iso(d.dueAt)}`).join(', ');
    if (unread.length > 0) return `order fulfilment never consumed ${unread.map((e) => `${e.type} at ${e.partition}@${e.offset}`).join(', ')}; ${pending === '' ? 'no deadline pending' : `its deadline (${pending}) never fired`}`;
    return `order fulfilment waits for a payment result the provider never wrote; ${pending === '' ? 'no deadline pending' : `its deadline (${pending}) never fired`}`;
  }
  const expected = COMMAND_OF_STATUS[fs.status];
  if (expected === undefined) return `order fulfilment is ${fs.status}${unread.length > 0 ? `, and never consumed ${unread.map((e) => e.type).join(', ')}` : ''}`;
  const id = fulfilmentIds.message(t.orderId, expected);
  if (!fs.emitted.includes(id)) return `order fulfilment is ${fs.status} but has not recorded emitting ${expected}`;
  const command = t.fulfilmentCommands.find((c) => (c.value.metadata as CommandMetadata).commandId === id);
  if (command === undefined) return `order fulfilment is ${fs.status} and recorded emitting ${expected} ${id}, which is not on ${TRAIL_TOPICS.commands}`;
  const reply = t.replies.find((r) => r.key === id)?.value as unknown as CommandReply | undefined;
  const known = t.remembered.find((r) => r.commandId === id);
  if (reply === undefined && known === undefined) return `the processor never decided ${expected} at ${at(command)}: no reply, and the aggregate's state does not remember it`;
  const decided = reply ?? (known as CommandReply);
  if (decided.status === 'REJECTED') return `the processor refused ${expected} at ${at(command)}: ${decided.rejectionCode ?? ''} (${decided.rejectionMessage ?? ''}), aggregate at version ${decided.aggregateVersion}`;
  return `the processor accepted ${expected} at ${at(command)} (${decided.events.length} event(s): ${decided.events.map((e) => `${e.eventType} v${e.version} at ${e.partition}@${e.offset}`).join(', ')}), yet the order's events lack its outcome`;
}

/** Reads the trail's topics and describes each order's trail. */
export async function readOrderTrails(kafka: Kafka, registryUrl: string, orderIds: readonly string[], events: readonly LoggedEvent[]): Promise<Record<string, readonly string[]>> {
  if (orderIds.length === 0) return {};
  const wanted = new Set(orderIds);
  const replyKeys = new Set(orderIds.flatMap((id) => FULFILMENT_COMMANDS.map((type) => fulfilmentIds.message(id, type))));
  const registry = new SchemaRegistry({ host: registryUrl });
  const names = new Map<number, string>();
  const records: TrailRecord[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics().finally(() => admin.disconnect()));
  await readToEnd(
    kafka,
    Object.values(TRAIL_TOPICS)
      .filter((topic) => existing.has(topic))
      .map((topic) => ({ topic })),
    async ({ topic, partition, message }) => {
      const key = message.key?.toString() ?? '';
      // Commands, states and snapshots are keyed by the order; replies by the command id.
      if (message.value === null || !(topic === TRAIL_TOPICS.replies ? replyKeys.has(key) : wanted.has(key.split('/')[0] ?? key))) return;
      const id = message.value.readInt32BE(1);
      if (!names.has(id)) names.set(id, ((await registry.getSchema(id)) as { name?: string }).name?.split('.').pop() ?? '');
      const value = (await registry.decode(message.value)) as Record<string, unknown>;
      records.push({ topic, partition, offset: Number(message.offset), key, type: names.get(id) ?? '', value });
    },
    { timeoutMs: 300_000 },
  );
  return Object.fromEntries(
    orderIds.map((orderId) => {
      const trail = orderTrail(orderId, records, events);
      return [orderId, [`stopped: ${trail.stopped}`, ...trail.lines]];
    }),
  );
}

/** The orders the verifier's fulfilment problems name ("order <id>: ..."). */
export function ordersOf(fulfilment: readonly string[]): string[] {
  return [...new Set(fulfilment.flatMap((p) => /^order (\S+):/.exec(p)?.[1] ?? []))];
}
