// What the command definition's integration test (and its bench script) share:
// the order aggregate's definition on the stateful runtime over a run's topic
// set (test/support/processor-crash.ts: the catalog's topics under the run's
// prefix, two partitions), order commands written as the gateway writes them,
// and the checks on the log: events contiguous per order, each once; replies
// naming their events' real offsets.
import type { Kafka, Producer } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import { StatefulRuntime } from '../../infra/stateful/runtime';
import { aggregateRuntimes } from '../../producers/command-processor/aggregates';
import { commandDefinition, commandTopicsOf, type CommandInput } from '../../producers/command-processor/command-definition';
import type { CommandState } from '../../producers/command-processor/command-state';
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { DEAD_LETTER_ACTIONS_TOPIC, topicCatalog } from '../../schemas/topics';
import { readRecords, type StoredRecord } from './process-managers';
import { PROCESSOR_PARTITIONS, processorTopics } from './processor-crash';
import { childScript, type CrashChild } from './stateful-crash';
import type { ParkingTarget } from '../../infra/stateful/parked-tools';
import { commandParkingTargetOf } from '../../producers/command-processor/parking-target';

export const orderRuntime = () => aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;
export const definitionCatalog = () => topicCatalog({ partitions: PROCESSOR_PARTITIONS });

/** Catalog topic -> the run's topic. */
export function definitionTopicMap(run: string): Record<string, string> {
  const logical = commandTopicsOf(definitionCatalog(), orderRuntime());
  const t = processorTopics(run);
  return { [logical.commands]: t.commands, [logical.events]: t.events, [logical.snapshots]: t.snapshots, [logical.parked]: `${t.commands}.parked`, [logical.replies]: t.replies, [DEAD_LETTER_ACTIONS_TOPIC]: `${run}.dead-letter-actions` };
}

/** The processor's parking target of the order commands (`npm run dlq`, the admin API), on the run's topics. */
export function processorParkingTarget(run: string, groupId: string): ParkingTarget {
  const map = definitionTopicMap(run);
  const physical = (topic: string): string => map[topic] ?? topic;
  const base = commandParkingTargetOf('order-commands', { catalog: definitionCatalog(), groupId });
  if (base.requests === undefined) throw new Error('the processor takes its requests on the commands topic');
  return {
    ...base,
    parked: { ...base.parked, physical: physical(base.parked.logical) },
    actions: { ...base.actions, physical: physical(base.actions.physical) },
    requests: { ...base.requests, physical: physical(base.requests.logical) },
  };
}

/** The order aggregate's definition on the runtime, on the run's topics, in the processor's group. */
export function orderCommandRuntime(o: { readonly kafka: Kafka; readonly codec: AvroCodec; readonly logger: Logger; readonly run: string; readonly stateDir?: string; readonly decoupledFetch?: boolean; readonly betweenCommitAndStore?: (partition: number) => Promise<void>; readonly transactionalIdPrefix?: string; readonly partitionsPerTask?: number }): StatefulRuntime<CommandState, CommandInput> {
  const catalog = definitionCatalog();
  const topicMap = definitionTopicMap(o.run);
  const definition = commandDefinition({ runtime: orderRuntime(), catalog, groupId: processorTopics(o.run).groupId, physical: (t) => topicMap[t] ?? t });
  const logical = commandTopicsOf(catalog, orderRuntime());
  return new StatefulRuntime({
    kafka: o.kafka,
    codec: o.codec,
    logger: o.logger,
    definition,
    catalog,
    topicMap,
    changelog: logical.snapshots,
    parkedTopic: logical.parked,
    groupId: definition.groupId,
    offsetFlushMs: 200,
    ...(o.stateDir === undefined ? {} : { stateDir: o.stateDir }),
    ...(o.decoupledFetch === undefined ? {} : { decoupledFetch: o.decoupledFetch }),
    ...(o.betweenCommitAndStore === undefined ? {} : { betweenCommitAndStore: o.betweenCommitAndStore }),
    ...(o.transactionalIdPrefix === undefined ? {} : { transactionalIdPrefix: o.transactionalIdPrefix }),
    ...(o.partitionsPerTask === undefined ? {} : { partitionsPerTask: o.partitionsPerTask }),
  });
}

export interface OrderCommand {
  readonly type: 'OpenOrder' | 'AddItemToOrder';
  readonly orderId: string;
  readonly commandId: string;
  readonly expectedVersion?: number;
  /** AddItemToOrder: the item (one line per item). */
  readonly item?: string;
}

export const open = (orderId: string, commandId = `c-${orderId}`): OrderCommand => ({ type: 'OpenOrder', orderId, commandId });
export const addItem = (orderId: string, item: string, commandId = `c-${orderId}-${item}`, expectedVersion?: number): OrderCommand => ({
  type: 'AddItemToOrder',
  orderId,
  commandId,
  item,
  ...(expectedVersion === undefined ? {} : { expectedVersion }),
});

/** Writes the commands, in order, keyed and partitioned as the gateway does. */
export async function sendCommands(producer: Producer, codec: AvroCodec, run: string, commands: readonly OrderCommand[]): Promise<void> {
  const topic = processorTopics(run).commands;
  const messages = await Promise.all(
    commands.map(async (c) => {
      const metadata: CommandMetadata = { commandId: c.commandId, aggregateId: c.orderId, correlationId: `k-${c.commandId}`, issuedAt: Date.now(), expectedVersion: c.expectedVersion ?? null, actor: null };
      const value =
        c.type === 'OpenOrder'
          ? { customerId: `customer-${c.orderId}`, metadata }
          : { menuItemId: c.item ?? 'm-1', menuItemName: `Item ${c.item ?? ''}`, quantity: 1, unitPrice: { amountMinor: 500, currency: 'EUR' }, metadata };
      return { key: c.orderId, partition: partitionFor(c.orderId, PROCESSOR_PARTITIONS), value: await codec.encode(topic, `restaurant.order.${c.type}`, value) };
    }),
  );
  await producer.send({ topic, acks: -1, messages });
}

export interface Log {
  readonly events: readonly StoredRecord[];
  /** Every reply, by commandId, in log order. */
  readonly replies: ReadonlyMap<string, readonly CommandReply[]>;
}

export async function readLog(kafka: Kafka, codec: AvroCodec, run: string): Promise<Log> {
  const t = processorTopics(run);
  const replies = new Map<string, CommandReply[]>();
  for (const r of await readRecords(kafka, t.replies, codec)) if (r.value !== null) replies.set(r.key, [...(replies.get(r.key) ?? []), r.value as unknown as CommandReply]);
  return { events: await readRecords(kafka, t.events, codec), replies };
}

/**
 * What the log must show: each event key written once, each order's versions
 * 1..n with no gap; every ACCEPTED reply naming its events where they really
 * are (topic, partition, offset, version, type); every reply of one commandId
 * the same.
 */
export function logProblems(log: Log, eventsTopic: string): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, StoredRecord>();
  const versions = new Map<string, number[]>();
  for (const e of log.events) {
    if (byKey.has(e.key)) problems.push(`event ${e.key} written twice`);
    byKey.set(e.key, e);
    const [order = '', version = ''] = e.key.split('/');
    versions.set(order, [...(versions.get(order) ?? []), Number(version)]);
  }
  for (const [order, list] of versions) if (list.some((v, i) => v !== i + 1)) problems.push(`${order}'s event versions are ${list.join(',')}`);
  for (const [commandId, replies] of log.replies) {
    if (replies.some((r) => JSON.stringify(r) !== JSON.stringify(replies[0]))) problems.push(`${commandId} answered differently`);
    for (const reply of replies) {
      for (const ref of reply.events) {
        const event = byKey.get(`${ref.aggregateId}/${ref.version}`);
        if (event === undefined || ref.topic !== eventsTopic || ref.partition !== event.partition || ref.offset !== event.offset || ref.eventType !== event.type) {
          problems.push(`${commandId}'s reply names ${ref.eventType} ${ref.aggregateId}/${ref.version} at ${ref.topic}:${ref.partition}@${ref.offset}, the event is at ${event === undefined ? 'nowhere' : `${event.partition}@${event.offset}`}`);
        }
      }
    }
  }
  return problems;
}

/** The definition in a child process (command-definition-child.ts) that hangs after its first commit, before the store write, to be killed -9. */
export function definitionChild(run: string, stateDir: string): CrashChild {
  return childScript('command-definition-child.ts', [run, stateDir]);
}
