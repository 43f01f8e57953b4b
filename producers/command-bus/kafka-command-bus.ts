// The CommandBus on Kafka: a command is produced to restaurant.<aggregate>.commands
// (keyed and partitioned by aggregate id), and its outcome arrives on
// restaurant.command-replies, which every gateway instance reads in full with a
// group of its own (a new one after a crash) and matches to its waiting requests by commandId.
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { CommandReply } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { AGGREGATE_NAMESPACES, COMMAND_REPLIES_TOPIC, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import { ProduceBatcher } from '../../infra/kafka/batcher';
import { trackMembership, type Membership } from '../../infra/kafka/membership';
import { AvroCodec, DecodeError, RegistryError } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import { CommandBusUnavailable, type CommandBus, type CommandEnvelope, type CommandOutcome } from '../gateway/command-bus';

export interface KafkaCommandBusOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly catalog?: TopicCatalog;
  /** Replies older than this when the gateway starts are not read (default 60 s). */
  readonly lookbackMs?: number;
  /** Outcomes kept for GET /commands/:id (default 50,000, oldest dropped first). */
  readonly outcomeCacheSize?: number;
  /** Commands arriving within this many ms share one produce request (default 2). */
  readonly lingerMs?: number;
}

export function outcomeOf(reply: CommandReply): CommandOutcome {
  const base = { commandId: reply.commandId, commandType: reply.commandType, aggregateId: reply.aggregateId, aggregateVersion: reply.aggregateVersion };
  return reply.status === 'REJECTED'
    ? { ...base, status: 'rejected', code: reply.rejectionCode ?? 'rejected', message: reply.rejectionMessage ?? '' }
    : { ...base, status: 'accepted', events: reply.events };
}

export class KafkaCommandBus implements CommandBus {
  private readonly catalog: TopicCatalog;
  private readonly producer: Producer;
  private reader: { readonly consumer: Consumer; readonly membership: Membership } | undefined;
  /** The next reply offset to read, per partition of the replies topic. */
  private readonly positions = new Map<number, string>();
  private stopping = false;
  private readonly waiters = new Map<string, Array<(outcome: CommandOutcome) => void>>();
  /**
   * Replies of the last `cacheSize` commands, by commandId, as their bytes (latin1
   * strings: a tenth of the decoded objects' heap), decoded when asked for.
   */
  private readonly outcomes = new Map<string, string>();
  private readonly cacheSize: number;
  private readonly batcher: ProduceBatcher;

  constructor(private readonly options: KafkaCommandBusOptions) {
    this.catalog = options.catalog ?? topicCatalog();
    this.cacheSize = options.outcomeCacheSize ?? 50_000;
    // Fail fast: a gateway answers 503 within seconds instead of holding requests while Kafka is away.
    // Not idempotent: a command written twice by a producer retry is the same commandId, which the processor answers once.
    this.producer = options.kafka.producer({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
    this.batcher = new ProduceBatcher(this.producer, options.lingerMs ?? 2);
  }

  /** Connects, and starts reading replies from a little before now, so no reply to a command sent after start is missed. */
  async start(): Promise<void> {
    const { kafka, logger } = this.options;
    await this.producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    const since = Date.now() - (this.options.lookbackMs ?? 60_000);
    try {
      for (const { partition, offset } of await admin.fetchTopicOffsetsByTimestamp(COMMAND_REPLIES_TOPIC, since)) this.positions.set(partition, offset);
    } finally {
      await admin.disconnect();
    }
    await this.startReader();
    logger.info({ since: new Date(since).toISOString() }, 'command bus reading replies');
  }

  /** Undefined while replies are being read; else why not (for readiness). */
  notReady(): string | undefined {
    return this.reader === undefined ? 'command replies: reconnecting' : this.reader.membership.notReady();
  }

  /**
   * Reads replies with a consumer group of this reader's own, from the
   * positions read so far. When the consumer crashes (the broker went away and
   * kafkajs's retries ran out), it is not restarted in its old group, whose
   * coordinator would keep the dead member until its session ran out: a new
   * group, empty, is joined at once and continues from the same positions
   * (docs/recovery.md).
   */
  private async startReader(): Promise<void> {
    const { kafka } = this.options;
    const consumer = kafka.consumer({
      groupId: `restaurant.gateway.replies.${randomUUID()}`,
      // The broker answers a fetch as soon as a reply is committed; the wait only bounds how often an idle gateway asks.
      maxWaitTimeInMs: 250,
      readUncommitted: false,
      sessionTimeout: 6_000,
      heartbeatInterval: 1_000,
      retry: { restartOnFailure: async () => false },
    });
    const membership = trackMembership(consumer, 'command replies');
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, () => resolve());
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    });
    joined.catch(() => undefined);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.reader?.consumer !== consumer || this.stopping) return;
      this.reader = undefined;
      this.options.logger.warn({ err: payload.error }, 'the command reply reader crashed; reading on in a new group');
      void this.replaceReader();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: COMMAND_REPLIES_TOPIC, fromBeginning: false });
      await consumer.run({
        // A throwaway group that always starts from known positions: committing its offsets would only cost requests.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) await this.onReply(message.key, message.value);
          this.positions.set(batch.partition, String(Number(batch.lastOffset()) + 1));
        },
      });
      await joined;
      for (const [partition, offset] of this.positions) consumer.seek({ topic: COMMAND_REPLIES_TOPIC, partition, offset });
      this.reader = { consumer, membership };
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private async replaceReader(): Promise<void> {
    for (let delay = 250; !this.stopping; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.startReader();
        this.options.logger.info('command reply reader back');
        return;
      } catch (error) {
        this.options.logger.debug({ err: error }, 'the command reply reader cannot start yet; trying again');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.batcher.flush();
    await this.reader?.consumer.disconnect();
    await this.producer.disconnect();
  }

  async outcome(commandId: string): Promise<CommandOutcome | undefined> {
    const bytes = this.outcomes.get(commandId);
    if (bytes === undefined) return undefined;
    return (await this.decode(Buffer.from(bytes, 'latin1')))?.outcome;
  }

  async send(envelope: CommandEnvelope, { waitMs }: { readonly waitMs: number }): Promise<CommandOutcome> {
    const { command, metadata, aggregate } = envelope;
    const topic = this.catalog.forAggregate(aggregate).commands;
    if (!topic) throw new Error(`no command topic for ${aggregate}`);
    const fullName = `${AGGREGATE_NAMESPACES[aggregate]}.${command.type}`;
    let value: Buffer;
    try {
      value = await this.options.codec.encode(topic.name, fullName, { ...command.data, metadata });
    } catch (error) {
      if (error instanceof RegistryError && error.retriable) throw new CommandBusUnavailable('the schema registry cannot be reached', { cause: error });
      throw error;
    }
    const outcome = this.waitFor(metadata.commandId, waitMs, { status: 'pending', commandId: metadata.commandId, commandType: command.type, aggregateId: metadata.aggregateId });
    try {
      await this.batcher.send(topic.name, {
        key: metadata.aggregateId,
        value,
        partition: partitionFor(metadata.aggregateId, topic.partitions),
        headers: { 'command-type': command.type, 'correlation-id': metadata.correlationId, ...envelope.trace },
      });
    } catch (error) {
      this.cancel(metadata.commandId);
      throw new CommandBusUnavailable(`the command could not be written to ${topic.name}: ${(error as Error).message}`, { cause: error });
    }
    return outcome;
  }

  private waitFor(commandId: string, waitMs: number, pending: CommandOutcome): Promise<CommandOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(commandId)?.filter((w) => w !== settle);
        if (list && list.length > 0) this.waiters.set(commandId, list);
        else this.waiters.delete(commandId);
        resolve(pending);
      }, waitMs);
      const settle = (outcome: CommandOutcome): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      const list = this.waiters.get(commandId) ?? [];
      list.push(settle);
      this.waiters.set(commandId, list);
    });
  }

  private cancel(commandId: string): void {
    this.waiters.delete(commandId);
  }

  /**
   * Every gateway reads every reply (the command may have come through another
   * one); only a reply someone here waits for is decoded now, by its key.
   */
  private async onReply(key: Buffer | null, bytes: Buffer | null): Promise<void> {
    if (bytes === null) return;
    let commandId = key?.toString();
    let outcome: CommandOutcome | undefined;
    if (commandId === undefined || this.waiters.has(commandId)) {
      const decoded = await this.decode(bytes);
      if (decoded === undefined) return;
      ({ commandId, outcome } = decoded);
    }
    this.outcomes.delete(commandId);
    this.outcomes.set(commandId, bytes.toString('latin1'));
    if (this.outcomes.size > this.cacheSize) {
      const oldest = this.outcomes.keys().next();
      if (!oldest.done) this.outcomes.delete(oldest.value);
    }
    const waiting = this.waiters.get(commandId);
    if (waiting && outcome) {
      this.waiters.delete(commandId);
      for (const settle of waiting) settle(outcome);
    }
  }

  private async decode(bytes: Buffer): Promise<{ commandId: string; outcome: CommandOutcome } | undefined> {
    try {
      const reply = (await this.options.codec.decode(bytes)).value as CommandReply;
      return { commandId: reply.commandId, outcome: outcomeOf(reply) };
    } catch (error) {
      if (error instanceof DecodeError) {
        this.options.logger.warn({ err: error, reason: error.reason }, 'undecodable command reply skipped');
        return undefined;
      }
      throw error;
    }
  }
}
