// The operator's side of a stateful runtime's parking (docs/stateful-runtime.md
// "Parking"), for `npm run dlq` and the admin API: list the parked processes
// and show one (read from the runtime's parked topic), and ask the runtime to
// redrive or skip. A request is a ParkingRequest written to the parked topic
// on the process's partition; the runtime that owns the partition decides it
// in its own transaction (exactly once) and records the outcome on the actions
// topic with actionId = requestId, which is what this side waits for.
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import type { DeadLetterAction } from '../../schemas/generated/types';
import { DEAD_LETTER_ACTION, PARKED_INPUT, PARKING_REQUEST } from '../../schemas/loader';
import { partitionFor } from '../../schemas/partitioning';
import { DecodeError, type AvroCodec } from '../kafka/codec';
import { readToEnd } from '../kafka/read-to-end';
import { waitFor } from '../wait-for';
import { groupParked, parkedFromRecord, positionOf, REQUEST_KEY_PREFIX, requestKeyOf, summaryOf, type ParkedInput, type ParkedProcess, type ParkingRequest } from './parking';

/** Where one runtime's parking is: its name and group, its parked topic, the actions topic. */
export interface ParkingTarget {
  /** The definition's name (a process manager's), as recorded in the actions' `readModel` field. */
  readonly name: string;
  readonly groupId: string;
  /** The catalog name of the parked topic (its subjects) and the physical topic. */
  readonly parked: { readonly logical: string; readonly physical: string; readonly partitions: number };
  readonly actions: { readonly physical: string; readonly partitions: number };
  /**
   * Where requests go when not to the parked topic: the command processor
   * takes them on the commands topic, in order with the commands
   * (docs/command-side.md "Parked aggregates").
   */
  readonly requests?: { readonly logical: string; readonly physical: string; readonly partitions: number };
}

export interface ToolContext {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
}

/** Every parked process of the target, with its parked inputs in order. */
export async function readParked(ctx: ToolContext, target: ParkingTarget): Promise<Map<string, readonly ParkedInput[]>> {
  const latest = new Map<string, ParkedInput>();
  await readToEnd(ctx.kafka, [{ topic: target.parked.physical }], async ({ message }) => {
    const key = message.key?.toString() ?? '';
    if (key.startsWith(REQUEST_KEY_PREFIX)) return;
    if (message.value === null) {
      latest.delete(key);
      return;
    }
    const decoded = await ctx.codec.decode(message.value);
    if (decoded.fullName === PARKED_INPUT) latest.set(key, parkedFromRecord(decoded.value));
  });
  return groupParked(latest);
}

export interface ListedProcess extends ParkedProcess {
  readonly consumerGroup: string;
  readonly processManager: string;
}

/** The parked processes, oldest first, optionally only those of one reason or one process. */
export async function listParkedProcesses(ctx: ToolContext, target: ParkingTarget, filter: { readonly reason?: string | undefined; readonly processId?: string | undefined } = {}): Promise<ListedProcess[]> {
  const out: ListedProcess[] = [];
  for (const list of (await readParked(ctx, target)).values()) {
    const summary = summaryOf(list);
    if (summary === undefined) continue;
    if (filter.reason !== undefined && summary.reason !== filter.reason) continue;
    if (filter.processId !== undefined && summary.processId !== filter.processId) continue;
    out.push({ consumerGroup: target.groupId, processManager: target.name, ...summary });
  }
  return out.sort((a, b) => a.parkedAt - b.parkedAt || (a.processId < b.processId ? -1 : 1));
}

/** A parked input as shown: its headers as they arrived (traceparent included), its key as text, its value decoded with the current decoder or `{ undecodable: <why> }`. */
export interface ShownInput {
  readonly position: string;
  readonly role: ParkedInput['role'];
  readonly type: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly parkedAt: number;
  readonly value: unknown;
}

export interface ShownProcess {
  readonly processManager: string;
  readonly consumerGroup: string;
  readonly parked: ParkedProcess;
  readonly chain: readonly ShownInput[];
}

export async function showParkedProcess(ctx: ToolContext, target: ParkingTarget, processId: string): Promise<ShownProcess | undefined> {
  const list = (await readParked(ctx, target)).get(processId);
  const summary = list === undefined ? undefined : summaryOf(list);
  if (list === undefined || summary === undefined) return undefined;
  const chain: ShownInput[] = [];
  for (const p of list) {
    let value: unknown;
    try {
      value = (await ctx.codec.decode(p.value)).value;
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      value = { undecodable: `${error.reason}: ${error.message}` };
    }
    chain.push({ position: positionOf(p), role: p.role, type: p.type, key: p.key === null ? null : p.key.toString(), headers: p.headers, parkedAt: p.parkedAt, value });
  }
  return { processManager: target.name, consumerGroup: target.groupId, parked: summary, chain };
}

export interface RequestOptions {
  readonly actor: string;
  readonly why: string;
  /** How long to wait for the runtime's answer (default 60 s). */
  readonly timeoutMs?: number;
  readonly clock?: () => number;
}

/** No runtime decided the request in time (none runs, or it is busy): it stays queued and is decided when one does. */
export class RequestPendingError extends Error {
  override readonly name = 'RequestPendingError';
  constructor(
    message: string,
    readonly requestId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Writes a request for the runtime and waits for the action it records.
 * `producer` is connected and idempotent.
 */
export async function requestAndWait(ctx: ToolContext & { readonly producer: Producer }, target: ParkingTarget, what: Pick<ParkingRequest, 'action' | 'processId' | 'position'>, options: RequestOptions): Promise<DeadLetterAction> {
  const request: ParkingRequest = { ...what, requestId: randomUUID(), actor: options.actor, why: options.why, at: (options.clock ?? Date.now)() };
  const actionsPartition = partitionFor(request.processId, target.actions.partitions);
  const key = `${target.actions.physical}:${actionsPartition}`;
  // The actions written from here on: the runtime's answer is among them.
  const admin = ctx.kafka.admin();
  await admin.connect();
  let from: number;
  try {
    from = Number((await admin.fetchTopicOffsets(target.actions.physical)).find((o) => o.partition === actionsPartition)?.high ?? 0);
  } finally {
    await admin.disconnect();
  }
  const to = target.requests ?? target.parked;
  const value = await ctx.codec.encode(to.logical, PARKING_REQUEST, request);
  await ctx.producer.send({
    topic: to.physical,
    acks: -1,
    messages: [{ key: requestKeyOf(request.requestId), value, partition: partitionFor(request.processId, to.partitions), headers: { 'event-type': 'ParkingRequest' } }],
  });
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    return await waitFor(
      `${target.name} to decide ${request.action} ${request.requestId} of ${request.processId}`,
      async () => {
        let found: DeadLetterAction | undefined;
        await readToEnd(
          ctx.kafka,
          [{ topic: target.actions.physical, partitions: [actionsPartition] }],
          async ({ message }) => {
            if (message.value === null || message.key?.toString() !== request.processId) return;
            const decoded = await ctx.codec.decode(message.value);
            const action = decoded.value as DeadLetterAction;
            if (decoded.fullName === DEAD_LETTER_ACTION && action.actionId === request.requestId) found = action;
          },
          { from: new Map([[key, from]]) },
        );
        return found;
      },
      timeoutMs,
      250,
    );
  } catch (cause) {
    throw new RequestPendingError(`${target.name} did not decide the ${request.action} of ${request.processId} within ${timeoutMs} ms; request ${request.requestId} stays queued and is decided when the runtime runs`, request.requestId, { cause });
  }
}
