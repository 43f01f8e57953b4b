// Restores a partition task's store from its changelog partition: reads,
// read-committed, from the offset the store reflects to the end the partition
// has now, and applies the records in batches, each batch together with the
// offset after it (docs/state-stores.md "Restore").
//
// kafkajs has no manual assignment, so a throwaway consumer group whose
// one-member assigner takes exactly this partition reads it; it seeks to the
// store's offset. Its own fetch loop heartbeats its own throwaway group, and the
// runtime's group is untouched as long as the runtime does not await the
// restore inside eachBatch (see "Restore and group membership").
import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Kafka, type KafkaMessage, type PartitionAssigner } from 'kafkajs';
import { traceHeadersIn } from '../tracing/propagation';

/** One changelog record as the store applies it: a tombstone (null value) deletes the key. */
export interface Change {
  readonly key: string;
  readonly value: Buffer | null;
  /** From the record's `fold-version` header; 0 when it has none. */
  readonly foldVersion: number;
  /** What a runtime indexes of the state beside its bytes (e.g. its status and pending deadlines); absent for none. */
  readonly summary?: StateSummary;
  /** The trace context of the step that wrote the record (its trace headers as JSON, from the record's headers); absent or null for none. */
  readonly trace?: string | null;
}

/** A state's indexed facts, kept in columns of their own so they can be counted and listed without decoding states. */
export interface StateSummary {
  /** A short label (a process's status) counted by `labelCounts`. */
  readonly label: string | null;
  /** Opaque text (e.g. JSON of pending deadlines), listed by `withDue`; null for none. */
  readonly due: string | null;
}

/** The store side of a restore (StateStore implements it). */
export interface RestoreTarget {
  reflectsOffset(): number;
  /** Applies the changes and records `offset` as reflected, atomically (or hands them to a writer that will: store-writer.ts). */
  apply(changes: readonly Change[], offset: number): void | Promise<void>;
  /** Waits until every change handed to `apply` is written; rejects with the first write that failed. Absent when `apply` writes before it returns. */
  flush?(): Promise<void>;
}

export interface RestoreResult {
  readonly from: number;
  /** The partition's last stable offset when the restore began; the store reflects it afterwards. */
  readonly to: number;
  /** Changelog records applied (committed data records at or past `from`; aborted ones and markers are never delivered). */
  readonly records: number;
  /** Records the consumer handed over, including any below `from` (none once the seek took effect): what was read. */
  readonly received: number;
  readonly batches: number;
  readonly ms: number;
}

export interface RestoreOptions {
  readonly topic: string;
  readonly partition: number;
  /** Called after each batch handed to the store (e.g. to heartbeat a consumer that must stay in its group), with the offset the store reflects by then. */
  readonly onProgress?: (progress: { readonly offset: number; readonly records: number; readonly to: number }) => void | Promise<void>;
  /** Give up (and leave the store at the last applied batch) after this long. Default 10 minutes. */
  readonly timeoutMs?: number;
  /** Stop after the batch being applied (e.g. the partition was revoked); the restore then rejects. */
  readonly signal?: AbortSignal;
  /** Bytes fetched per request (default 4 MiB); smaller means more, shorter batches. */
  readonly fetchBytes?: number;
}

export const FOLD_VERSION_HEADER = 'fold-version';

export function foldVersionOf(message: Pick<KafkaMessage, 'headers'>): number {
  const raw = message.headers?.[FOLD_VERSION_HEADER];
  const text = Array.isArray(raw) ? raw[0] : raw;
  const version = text === undefined ? 0 : Number(text.toString());
  return Number.isInteger(version) && version >= 0 ? version : 0;
}

/** A record's trace headers (`traceparent`, `tracestate`) as JSON text; null when it carries no trace. */
export function traceOf(message: Pick<KafkaMessage, 'headers'>): string | null {
  const trace = traceHeadersIn(message.headers);
  return trace.traceparent === undefined ? null : JSON.stringify(trace);
}

/** The target's flush: undefined once everything handed over is written, else the failure. */
async function flushed(target: RestoreTarget): Promise<unknown> {
  try {
    await target.flush?.();
    return undefined;
  } catch (error) {
    return error;
  }
}

function onePartitionAssigner(topic: string, partition: number): PartitionAssigner {
  const assignment = { [topic]: [partition] };
  return () => ({
    name: 'ChangelogRestoreAssigner',
    version: 1,
    async assign({ members }) {
      const [first] = members;
      if (!first) return [];
      return [{ memberId: first.memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }) }];
    },
    protocol({ topics }) {
      return { name: 'ChangelogRestoreAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

/**
 * The changelog partition's log start and end offsets now. kafkajs lists
 * offsets read-committed, so `high` is the last stable offset: every
 * transaction with records below it is committed or aborted, and the records of
 * a transaction still open lie at or past it.
 */
export async function changelogOffsets(kafka: Kafka, topic: string, partition: number): Promise<{ readonly low: number; readonly high: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const found = offsets.find((o) => o.partition === partition);
    if (!found) throw new Error(`changelog ${topic} has no partition ${partition}`);
    return { low: Number(found.low), high: Number(found.high) };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Applies the changelog past `target.reflectsOffset()` up to the partition's
 * last stable offset when called. Records come read-committed: records of
 * aborted transactions are never delivered; a transaction still open is not
 * waited for, and its records (at or past that offset) are read by the next
 * restore if it commits.
 */
export async function restoreFromChangelog(kafka: Kafka, target: RestoreTarget, options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const { topic, partition } = options;
  const from = target.reflectsOffset();
  const { high: to } = await changelogOffsets(kafka, topic, partition);
  if (from >= to) return { from, to: from, records: 0, received: 0, batches: 0, ms: Date.now() - started };

  const groupId = `restaurant.state-restore.${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    partitionAssigners: [onePartitionAssigner(topic, partition)],
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: options.fetchBytes ?? 4 * 1024 * 1024,
    maxBytes: Math.max(options.fetchBytes ?? 0, 10 * 1024 * 1024),
  });
  // The offset after the last batch handed to the target (which may still be writing it: reflectsOffset() is what it has written).
  let position = from;
  let records = 0;
  let received = 0;
  let batches = 0;
  let failed: unknown;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let reached = false;
  const reach = (lastOffset: number): void => {
    if (lastOffset >= to - 1 && !reached) {
      reached = true;
      finish();
    }
  };
  // A batch that holds only transaction markers (or aborted records) is
  // reported here, not to eachBatch: it still moves the restore forward.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic && payload.partition === partition) reach(Number(payload.lastOffset));
  });
  const abort = (): void => finish();
  options.signal?.addEventListener('abort', abort, { once: true });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    failed ??= payload.error;
    finish();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (reached || options.signal?.aborted) return;
        const changes: Change[] = [];
        let next = position;
        received += batch.messages.length;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < next) continue; // before the seek took effect
          if (offset >= to) break; // past the end taken at the start: the next restore reads it
          if (message.key) changes.push({ key: message.key.toString(), value: message.value, foldVersion: foldVersionOf(message), trace: traceOf(message) });
          next = offset + 1;
        }
        if (changes.length === 0) return;
        try {
          await target.apply(changes, next);
        } catch (error) {
          // Not kafkajs's to retry (a damaged store stays damaged): end the restore with it.
          failed = error;
          reached = true;
          finish();
          return;
        }
        position = next;
        records += changes.length;
        batches += 1;
        await options.onProgress?.({ offset: target.reflectsOffset(), records, to });
        // Let timers and I/O (heartbeats of other consumers in this process) run.
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
    consumer.seek({ topic, partition, offset: String(from) });
    const timeoutMs = options.timeoutMs ?? 600_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    // Whatever ended the restore, the batches handed over are written (or failed) before it reports.
    await flushed(target).then((error) => (failed ??= error));
    if (options.signal?.aborted) throw new Error(`restore of ${topic}[${partition}] stopped at offset ${target.reflectsOffset()} of ${to}`, { cause: options.signal.reason });
    if (failed !== undefined) throw new Error(`restore of ${topic}[${partition}] failed`, { cause: failed });
    if (outcome === 'timeout') throw new Error(`restore of ${topic}[${partition}] did not reach offset ${to} within ${timeoutMs} ms (store at ${target.reflectsOffset()})`);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await consumer.disconnect().catch(() => undefined);
    // The throwaway group committed nothing; remove it so groups do not pile up.
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
  // Everything below `to` is now applied or was never committed (aborted
  // records, markers): the store reflects `to`.
  if (position < to) {
    await target.apply([], to);
    const error = await flushed(target);
    if (error !== undefined) throw new Error(`restore of ${topic}[${partition}] failed`, { cause: error });
  }
  return { from, to, records, received, batches, ms: Date.now() - started };
}
