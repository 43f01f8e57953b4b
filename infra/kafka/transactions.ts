// Transactional producers that fence: a role that owns an input partition
// (the command processor, a process manager) binds a transactional id to it;
// the new owner's first transaction bumps the producer epoch, which makes a
// zombie's later commits fail and aborts whatever the zombie left open.
import type { Kafka, Message, Producer, RecordMetadata, Transaction } from 'kafkajs';

/**
 * How a transactional producer retries a send the broker refused for a
 * transient reason.
 *
 * - Without a bound on the count: an idempotent producer that gave up on a
 *   batch and went on would break its sequence numbers, which is why kafkajs
 *   warns about any limit below Number.MAX_SAFE_INTEGER ("Limiting retries for
 *   the idempotent producer may invalidate EoS guarantees"). What bounds a send
 *   here is the transaction instead: a transaction the broker cannot complete
 *   within `transactionTimeout` is aborted by its coordinator, which bumps the
 *   producer epoch, and the next attempt is refused as fenced (not retriable),
 *   so the caller's transaction fails and is never half-visible. While no
 *   broker answers at all a send keeps trying every 2 s until one does (the
 *   Java client bounds this with delivery.timeout.ms, kafkajs has none); a
 *   stop meanwhile ends at main.ts's 15 s hard limit. This policy covers the
 *   produce requests of a transaction (with AddPartitionsToTxn); kafkajs
 *   runs InitProducerId and the offsets' commit with the client's retry
 *   (infra/kafka/client.ts) and EndTxn (commit, abort) once.
 * - Quickly: a transaction begun right after the previous commit is refused
 *   with CONCURRENT_TRANSACTIONS until the commit markers are written (a few
 *   ms). kafkajs retries it like any error, first after 300 ms by default,
 *   which puts ~300 ms on every transaction; retry after ~3 ms instead, then
 *   doubling up to 2 s between attempts (at 500 commands/s ~15% of
 *   transactions meet it once; a first retry after 3 ms instead of 10 took p50
 *   from 20–23 to 15–17 ms).
 */
export const TRANSACTIONAL_RETRY = Object.freeze({ initialRetryTime: 3, maxRetryTime: 2_000, retries: Number.MAX_SAFE_INTEGER });

/** Connects a producer with this transactional id and fences any earlier holder of the id. */
export async function fencedProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 60_000,
    retry: TRANSACTIONAL_RETRY,
  });
  await producer.connect();
  try {
    // The first transaction initialises the producer id: this is what fences.
    const fence = await producer.transaction();
    await fence.abort();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
  return producer;
}

/**
 * Sends a transaction's messages as one request per topic partition, all at
 * once, and settles when every one has: rejects with the first failure, after
 * the others have finished.
 *
 * Why not one `sendBatch`: kafkajs sends one request per partition leader
 * under a lock per broker, and when one of them fails (a broker killed) it
 * retries the whole call at once, while the request to another broker may
 * still be on its way. The retry waits for that broker's lock, finds no
 * answer recorded for it yet, and sends its partitions again with the
 * producer's *next* sequence numbers, because the first request has since
 * succeeded: the broker cannot tell it from new data, and the transaction
 * commits every record twice (seen in the chaos runs as the same event at
 * adjacent offsets after a leader kill). A call that names one partition
 * retries only that partition, with the same sequence numbers, which the
 * broker recognises as a duplicate.
 */
export async function sendPerPartition(
  transaction: Pick<Transaction, 'sendBatch'>,
  topicMessages: ReadonlyArray<{ readonly topic: string; readonly messages: readonly Message[] }>,
): Promise<RecordMetadata[]> {
  const groups = new Map<string, { topic: string; messages: Message[] }>();
  for (const { topic, messages } of topicMessages) {
    for (const message of messages) {
      if (message.partition === undefined) throw new Error(`a transactional message to ${topic} names no partition`);
      const key = `${topic}\u0000${message.partition}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { topic, messages: [message] });
      else group.messages.push(message);
    }
  }
  const results = await Promise.allSettled([...groups.values()].map((group) => transaction.sendBatch({ acks: -1, topicMessages: [group] })));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}
