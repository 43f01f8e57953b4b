// Replays of a read model's consumer group (docs/operations.md).
//
// In place (the group must be stopped):
//   --to earliest      the read model is rebuilt from scratch: it is marked
//                      "rebuilding" (queries answer 503 rebuilding), emptied,
//                      its checkpoints and the group's committed offsets set to
//                      the first offsets, and every event applied again.
//   --to <ISO time>    the events from that time (Kafka's timestamp index) or
//   --to <offset>      from that offset on every partition are delivered again
//                      into the model as it is: the version guard skips what is
//                      applied and applies what is missing (a repair). It cannot
//                      redo how events were projected; that takes --to earliest.
// Blue/green (--blue-green, from the earliest offsets): the model is built
// into a new keyspace under a new group while the old one keeps serving; once
// caught up the serving pointer is switched atomically, the projector roles
// move to the new group (they follow the pointer), and the old keyspace and
// group are dropped.
//
// Either way this process runs the projector itself, shows progress (events/s,
// ETA) and returns once it has read up to the end offsets it found at the start.
import type Redis from 'ioredis';
import type { Admin, GroupDescription, Kafka } from 'kafkajs';
import type { AvroCodec } from '../../../infra/kafka/codec';
import type { Logger } from '../../../infra/logging';
import type { Metrics } from '../../../infra/metrics/registry';
import { Projector } from '../runtime/projector';
import { checkpointField } from '../runtime/redis-batch';
import { isReadModel, projectionGroupId, READ_MODEL_SPECS } from '../runtime/read-models';
import { baseOf, rebuildKeyspace, servingKeyspace, switchServing } from '../runtime/serving';
import { assertKeyspace, checkpointKey, DEFAULT_KEYSPACE, generationKey, InvalidKeyspaceError, READ_MODELS, readModelPattern, rebuildKey, type ReadModelName } from '../shared/keys';
import { recordProgress, replayMetrics } from './metrics';
import { progressLine, ReplayProgress, duration, type PartitionSpan } from './progress';

export type ReplayTarget = { readonly kind: 'earliest' } | { readonly kind: 'time'; readonly at: number } | { readonly kind: 'offset'; readonly offset: number };

/** A replay that cannot go ahead; the message says why and what to do. Exit code 2: bad input; 3: the group is live; 1: anything else. */
export class ReplayError extends Error {
  override readonly name = 'ReplayError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const GROUP_PREFIX = 'restaurant.projection.';
const projectionGroups = `${GROUP_PREFIX}<${READ_MODELS.join('|')}>[.<keyspace>]`;

/** `earliest`, an ISO-8601 time (a date, or a date and time), or a whole offset. */
export function parseTarget(raw: string | undefined, now: number): ReplayTarget {
  if (raw === undefined || raw === '') throw new ReplayError('--to is required: earliest, an ISO-8601 time (e.g. 2025-01-15T12:00:00Z) or an offset (a whole number)', 2);
  if (raw === 'earliest') return { kind: 'earliest' };
  if (/^\d+$/.test(raw)) {
    const offset = Number(raw);
    if (!Number.isSafeInteger(offset)) throw new ReplayError(`--to ${raw} is too large for an offset`, 2);
    return { kind: 'offset', offset };
  }
  const at = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(at)) {
    throw new ReplayError(`--to ${JSON.stringify(raw)} is not earliest, an ISO-8601 time (e.g. 2025-01-15 or 2025-01-15T12:00:00Z) or an offset (a whole number)`, 2);
  }
  if (at > now) throw new ReplayError(`--to ${raw} is in the future (now is ${new Date(now).toISOString()}): there is nothing to replay from there`, 2);
  return { kind: 'time', at };
}

/** The read model and keyspace a projection group belongs to. */
export function parseGroup(group: string): { readonly model: ReadModelName; readonly keyspace: string } {
  const unknown = (why: string): ReplayError => new ReplayError(`unknown consumer group ${JSON.stringify(group)}: ${why}. Replays rebuild read models, whose groups are ${projectionGroups}.`, 2);
  if (!group.startsWith(GROUP_PREFIX)) throw unknown('it is not a read model’s group');
  const rest = group.slice(GROUP_PREFIX.length);
  const dot = rest.indexOf('.');
  const model = dot < 0 ? rest : rest.slice(0, dot);
  if (!isReadModel(model)) throw unknown(`there is no read model "${model}"`);
  if (dot < 0) return { model, keyspace: DEFAULT_KEYSPACE };
  const keyspace = rest.slice(dot + 1);
  try {
    assertKeyspace(keyspace);
  } catch (cause) {
    if (cause instanceof InvalidKeyspaceError) throw unknown(cause.message);
    throw cause;
  }
  if (keyspace === DEFAULT_KEYSPACE) throw unknown(`the ${DEFAULT_KEYSPACE} keyspace's group is ${projectionGroupId(model, keyspace)}`);
  return { model, keyspace };
}

export interface ReplayRequest {
  readonly group: string;
  readonly to: ReplayTarget;
  readonly blueGreen: boolean;
  /** Blue/green: keep the old keyspace and group after the switch. */
  readonly keepOld?: boolean;
  /** Blue/green: how long to wait for a projector role to join the new group (default 30 s). */
  readonly handoverTimeoutMs?: number;
  /** Blue/green: how long queries that resolved the old keyspace get before it is dropped (default 5 s). */
  readonly graceMs?: number;
}

export interface ReplayDeps {
  /** A client of its own (its client id tells the replay's group member from a projector role's). */
  readonly kafka: Kafka;
  readonly clientId: string;
  readonly codec: AvroCodec;
  readonly redis: Redis;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The deployment's base keyspace (READ_MODEL_KEYSPACE); by default the one the group's keyspace belongs to. */
  readonly base?: string;
  /** Report lines. */
  readonly say: (line: string) => void;
  /** Progress: redrawn in place on a terminal, a line every few seconds otherwise. */
  readonly progress: { readonly isTTY: boolean; write(text: string): void };
  readonly clock?: () => number;
}

export interface ReplayReport {
  readonly model: ReadModelName;
  /** The keyspace that serves the model afterwards. */
  readonly keyspace: string;
  readonly group: string;
  readonly events: number;
  readonly seconds: number;
  /** Blue/green: whether a projector role took the new group over. */
  readonly handedOver?: boolean;
}

const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

function describeMembers(description: GroupDescription): string {
  return description.members.map((m) => `  ${m.memberId} (client ${m.clientId}, host ${m.clientHost})`).join('\n');
}

async function describe(admin: Admin, group: string): Promise<GroupDescription> {
  const { groups } = await admin.describeGroups([group]);
  const found = groups.find((g) => g.groupId === group);
  if (!found) throw new ReplayError(`Kafka did not describe the consumer group ${group}`);
  return found;
}

/** Offsets per partition of the model's topics: where the replay starts, where "caught up" is. */
async function spansFor(admin: Admin, topics: readonly string[], to: ReplayTarget): Promise<Map<string, PartitionSpan & { readonly topic: string; readonly partition: number }>> {
  const spans = new Map<string, PartitionSpan & { topic: string; partition: number }>();
  for (const topic of topics) {
    const marks = await admin.fetchTopicOffsets(topic);
    const byTime = to.kind === 'time' ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, to.at)).map((o) => [o.partition, Number(o.offset)])) : undefined;
    for (const { partition, low, high } of marks) {
      const [lo, hi] = [Number(low), Number(high)];
      const wanted = to.kind === 'earliest' ? lo : to.kind === 'offset' ? to.offset : (byTime?.get(partition) ?? hi);
      spans.set(partitionKey(topic, partition), { topic, partition, start: Math.min(Math.max(wanted, lo), hi), end: hi });
    }
  }
  return spans;
}

/** Deletes every key of a read model in a keyspace except `keep` (SCAN + UNLINK, in pages). */
export async function dropReadModel(redis: Redis, keyspace: string, model: ReadModelName, keep: ReadonlySet<string> = new Set()): Promise<number> {
  let cursor = '0';
  let dropped = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', readModelPattern(keyspace, model), 'COUNT', 1000);
    cursor = next;
    const doomed = keys.filter((k) => !keep.has(k));
    if (doomed.length > 0) dropped += await redis.unlink(...doomed);
  } while (cursor !== '0');
  return dropped;
}

export class Replay {
  private readonly clock: () => number;
  /** The projector this replay runs, while it runs. */
  private active: Projector | undefined;

  constructor(private readonly deps: ReplayDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** Stops the replay's projector (Ctrl-C): its group is left with the offsets reached so far. */
  async abort(): Promise<void> {
    await this.active?.stop();
  }

  async run(request: ReplayRequest): Promise<ReplayReport> {
    const { model, keyspace } = parseGroup(request.group);
    const base = this.deps.base ?? baseOf(keyspace);
    if (request.blueGreen && request.to.kind !== 'earliest') {
      throw new ReplayError('--blue-green builds a new read model from the first event: --to must be earliest (or left out)', 2);
    }
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      const serving = await servingKeyspace(this.deps.redis, base, model);
      const servingGroup = projectionGroupId(model, serving);
      if (keyspace !== serving) {
        const known = await this.known(admin, request.group, keyspace, model);
        throw new ReplayError(
          known
            ? `${request.group} is not the group serving the ${model} read model: keyspace ${serving} (group ${servingGroup}) serves it now. Replay that one.`
            : `unknown consumer group ${request.group}: Kafka has no such group and there is no ${model} read model in keyspace ${keyspace}. The ${model} read model is served by group ${servingGroup}.`,
          2,
        );
      }
      return request.blueGreen ? await this.blueGreen(admin, model, base, serving, request) : await this.inPlace(admin, model, serving, request);
    } finally {
      await admin.disconnect();
    }
  }

  private async known(admin: Admin, group: string, keyspace: string, model: ReadModelName): Promise<boolean> {
    const { groups } = await admin.listGroups();
    if (groups.some((g) => g.groupId === group)) return true;
    return (await this.deps.redis.exists(checkpointKey(keyspace, model))) === 1;
  }

  private async inPlace(admin: Admin, model: ReadModelName, keyspace: string, request: ReplayRequest): Promise<ReplayReport> {
    const { redis, say } = this.deps;
    const group = request.group;
    if (!(await this.known(admin, group, keyspace, model))) {
      throw new ReplayError(`unknown consumer group ${group}: Kafka has no such group and there is no ${model} read model in keyspace ${keyspace} to rebuild. Start its projector instead (ROLE=projector:${model}).`, 2);
    }
    const description = await describe(admin, group);
    if (description.members.length > 0) {
      throw new ReplayError(
        `consumer group ${group} is not stopped: it has ${description.members.length} live member(s) (state ${description.state}):\n${describeMembers(description)}\n` +
          `Stop the processes that run its projector (ROLE=projector:${model}, ROLE=projectors or ROLE=all) and run the replay again, or rebuild beside it with --blue-green.`,
        3,
      );
    }
    const topics = READ_MODEL_SPECS[model].topics;
    const spans = await spansFor(admin, topics, request.to);
    const fields = (list: ReadonlyArray<PartitionSpan & { topic: string; partition: number }>, pick: (s: PartitionSpan) => number) =>
      Object.fromEntries(list.map((s) => [checkpointField(s.topic, s.partition), String(pick(s))]));
    const starts = fields([...spans.values()], (s) => s.start);
    if (request.to.kind === 'earliest') {
      // Marked first, so queries say "rebuilding" before anything disappears.
      const rebuilding = [...spans.values()].filter((s) => s.end > s.start);
      await redis.del(rebuildKey(keyspace, model));
      if (rebuilding.length > 0) await redis.hset(rebuildKey(keyspace, model), fields(rebuilding, (s) => s.end));
      const dropped = await dropReadModel(redis, keyspace, model, new Set([rebuildKey(keyspace, model)]));
      await redis.hset(checkpointKey(keyspace, model), starts);
      say(`cleared the ${model} read model in keyspace ${keyspace} (${dropped.toLocaleString('en-US')} keys); queries answer 503 rebuilding until it has caught up`);
    } else {
      // Moved back by hand: the script's forward-only rule is for writers, not for this.
      await redis.hset(checkpointKey(keyspace, model), starts);
    }
    for (const topic of topics) {
      const partitions = [...spans.values()].filter((s) => s.topic === topic).map((s) => ({ partition: s.partition, offset: String(s.start) }));
      await admin.setOffsets({ groupId: group, topic, partitions });
    }
    say(`reset ${group} to ${describeTarget(request.to)}: ${[...spans.values()].map((s) => `${s.topic}/${s.partition}@${s.start}`).join(' ')}`);
    const { events, seconds } = await this.project(model, keyspace, group, spans);
    say(`caught up: ${group} replayed ${events.toLocaleString('en-US')} events into the ${model} read model (keyspace ${keyspace}) in ${duration(seconds)}. Start its projector again (ROLE=projector:${model}); it resumes from here.`);
    return { model, keyspace, group, events, seconds };
  }

  private async blueGreen(admin: Admin, model: ReadModelName, base: string, serving: string, request: ReplayRequest): Promise<ReplayReport> {
    const { redis, say } = this.deps;
    const generation = await redis.hincrby(generationKey(base), model, 1);
    let keyspace: string;
    try {
      keyspace = rebuildKeyspace(base, generation);
    } catch (cause) {
      throw new ReplayError(`the base keyspace ${base} is too long to name a rebuild keyspace after it (${base}-g${generation})`, 1, { cause });
    }
    const group = projectionGroupId(model, keyspace);
    const stale = await describe(admin, group);
    if (stale.members.length > 0) throw new ReplayError(`the new group ${group} already has live members:\n${describeMembers(stale)}`, 3);
    if (stale.state !== 'Dead') await admin.deleteGroups([group]);
    await dropReadModel(redis, keyspace, model);
    const spans = await spansFor(admin, READ_MODEL_SPECS[model].topics, { kind: 'earliest' });
    say(`building the ${model} read model into keyspace ${keyspace} (group ${group}) while ${serving} keeps serving`);

    const { events, seconds, projector } = await this.project(model, keyspace, group, spans, { keepRunning: true });
    let handedOver = false;
    try {
      if (!(await switchServing(redis, base, model, serving, keyspace))) {
        throw new ReplayError(`the ${model} read model is no longer served by ${serving} (another rebuild switched it?); left ${keyspace} and ${group} as they are`);
      }
      say(`switched: keyspace ${keyspace} serves the ${model} read model now (was ${serving})`);
      handedOver = await this.waitForHandover(admin, group, request.handoverTimeoutMs ?? 30_000);
      say(
        handedOver
          ? `handed over: a projector role joined ${group}`
          : `no projector role joined ${group} within ${duration((request.handoverTimeoutMs ?? 30_000) / 1000)}; start one (ROLE=projector:${model}): it follows the switch and resumes from the checkpoint`,
      );
    } finally {
      await projector.stop();
      this.active = undefined;
    }
    if (!request.keepOld) await this.retire(admin, model, serving, request.graceMs ?? 5_000);
    return { model, keyspace, group, events, seconds, handedOver };
  }

  private async waitForHandover(admin: Admin, group: string, timeoutMs: number): Promise<boolean> {
    const deadline = this.clock() + timeoutMs;
    while (this.clock() < deadline) {
      const { members } = await describe(admin, group);
      if (members.some((m) => m.clientId !== this.deps.clientId)) return true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  }

  /** Drops the keyspace that served before a blue/green switch, once its group has no members. */
  private async retire(admin: Admin, model: ReadModelName, old: string, graceMs: number): Promise<void> {
    const { redis, say } = this.deps;
    const group = projectionGroupId(model, old);
    await new Promise((resolve) => setTimeout(resolve, graceMs)); // queries that resolved the old keyspace finish
    const deadline = this.clock() + 30_000;
    let description = await describe(admin, group);
    while (description.members.length > 0 && this.clock() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      description = await describe(admin, group);
    }
    if (description.members.length > 0) {
      say(`kept keyspace ${old}: its group ${group} still has live members (a projector that does not follow the switch?):\n${describeMembers(description)}`);
      return;
    }
    if (description.state !== 'Dead') await admin.deleteGroups([group]);
    const dropped = await dropReadModel(redis, old, model);
    say(`dropped the old ${model} read model in keyspace ${old} (${dropped.toLocaleString('en-US')} keys) and its group ${group}`);
  }

  /** Runs the projector until it has read up to the end offsets in `spans`, showing progress. */
  private async project(
    model: ReadModelName,
    keyspace: string,
    group: string,
    spans: ReadonlyMap<string, PartitionSpan>,
    options: { readonly keepRunning?: boolean } = {},
  ): Promise<{ events: number; seconds: number; projector: Projector }> {
    const { kafka, codec, redis, logger, metrics } = this.deps;
    const progress = new ReplayProgress(spans, this.clock());
    const m = replayMetrics(metrics);
    let read = 0;
    let caughtUp: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (caughtUp = resolve));
    const check = (): void => {
      if (progress.snapshot(this.clock()).caughtUp) caughtUp();
    };
    const projector = new Projector({
      kafka,
      codec,
      redis,
      logger,
      model,
      keyspace,
      groupId: group,
      metrics,
      onProgress: ({ topic, partition, position, messages }) => {
        progress.update(partitionKey(topic, partition), position, messages);
        read += messages;
        check();
      },
    });
    const draw = (final: boolean): void => {
      const snapshot = progress.snapshot(this.clock());
      recordProgress(m, group, snapshot, read);
      read = 0;
      const line = `${group} ${progressLine(snapshot)}`;
      if (this.deps.progress.isTTY) this.deps.progress.write(`\r${line}${final ? '\n' : ''}`);
      else this.deps.progress.write(`${line}\n`);
    };
    draw(false);
    const timer = setInterval(() => draw(false), this.deps.progress.isTTY ? 250 : 2_000);
    this.active = projector;
    try {
      await projector.start();
      check(); // nothing to read at all
      await done;
      draw(true);
    } catch (error) {
      await projector.stop().catch(() => undefined);
      throw error;
    } finally {
      clearInterval(timer);
    }
    if (!options.keepRunning) {
      await projector.stop();
      this.active = undefined;
    }
    const final = progress.snapshot(this.clock());
    return { events: final.events, seconds: final.elapsedSeconds, projector };
  }
}

function describeTarget(to: ReplayTarget): string {
  if (to.kind === 'earliest') return 'the earliest offsets';
  if (to.kind === 'offset') return `offset ${to.offset}`;
  return new Date(to.at).toISOString();
}
