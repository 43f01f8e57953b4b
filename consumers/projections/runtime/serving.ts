// Which keyspace serves a read model, and a projector that follows it.
//
// A deployment is configured with a base keyspace (READ_MODEL_KEYSPACE,
// default `live`). A blue/green rebuild (`npm run replay -- <group>
// --blue-green`) builds a read model into a fresh keyspace under a new
// consumer group while the old one keeps serving, then switches the pointer
// `rm:{<base>}:serving` in one atomic step. The query API reads the pointer on
// every request; the projector roles poll it and move to the new keyspace and
// group, where they resume from the rebuild's checkpoint.
//
// No pointer (never switched, or Redis lost its data): the base keyspace serves.
import type Redis from 'ioredis';
import type { Logger } from '../../../infra/logging';
import { assertKeyspace, servingKey, type ReadModelName } from '../shared/keys';
import { Projector, type ProjectorOptions } from './projector';

/** The keyspace a blue/green rebuild of generation `n` builds: `<base>-g<n>`. */
export function rebuildKeyspace(base: string, generation: number): string {
  return assertKeyspace(`${base}-g${generation}`);
}

/** The base keyspace a keyspace belongs to: itself, or what a rebuild keyspace was named after. */
export function baseOf(keyspace: string): string {
  return keyspace.replace(/-g\d+$/, '');
}

export async function servingKeyspace(redis: Redis, base: string, model: ReadModelName): Promise<string> {
  const pointer = await redis.hget(servingKey(base), model);
  return pointer === null ? base : assertKeyspace(pointer);
}

/** Compare-and-set of the pointer; switching back to the base removes it. */
const SWITCH_LUA = `
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[4]
if current ~= ARGV[2] then return 0 end
if ARGV[3] == ARGV[4] then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`;

/** Atomically makes `to` serve `model` if `from` serves it now; false (and nothing changed) if not. */
export async function switchServing(redis: Redis, base: string, model: ReadModelName, from: string, to: string): Promise<boolean> {
  const result = await redis.eval(SWITCH_LUA, 1, servingKey(base), model, assertKeyspace(from), assertKeyspace(to), base);
  return result === 1;
}

export interface ServingProjectorOptions extends Omit<ProjectorOptions, 'keyspace' | 'groupId' | 'logger'> {
  readonly base: string;
  readonly logger: Logger;
  /** How often to look at the pointer (default 2000 ms). */
  readonly pollMs?: number;
}

/** A projector for whichever keyspace serves its read model, moving when the pointer moves. */
export class ServingProjector {
  private current: { readonly keyspace: string; readonly projector: Projector } | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The start, a move or the stop in progress: they never overlap. */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ServingProjectorOptions) {}

  get keyspace(): string | undefined {
    return this.current?.keyspace;
  }

  get projector(): Projector | undefined {
    return this.current?.projector;
  }

  /** Undefined while the projector in the serving keyspace consumes; else why not (for readiness). */
  notReady(): string | undefined {
    return this.current === undefined ? `projector:${this.options.model}: moving keyspace` : this.current.projector.consumer.notReady();
  }

  /** Why the projector will never consume again without a restart; undefined while it may. */
  broken(): string | undefined {
    return this.current?.projector.consumer.broken();
  }

  async start(): Promise<void> {
    const { redis, base, model } = this.options;
    await this.run(await servingKeyspace(redis, base, model));
    this.timer = setInterval(() => {
      this.chain = this.chain.then(() => this.follow());
    }, this.options.pollMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.chain;
    await this.current?.projector.stop();
  }

  private async run(keyspace: string): Promise<void> {
    const projector = new Projector({ ...this.options, keyspace });
    try {
      await projector.start();
    } catch (error) {
      await projector.stop().catch(() => undefined);
      throw error;
    }
    this.current = { keyspace, projector };
  }

  private async follow(): Promise<void> {
    const { redis, base, model, logger } = this.options;
    if (this.stopped) return;
    let keyspace: string;
    try {
      keyspace = await servingKeyspace(redis, base, model);
    } catch (error) {
      logger.debug({ err: error, model }, 'could not read the serving keyspace; staying where we are');
      return;
    }
    if (keyspace === this.current?.keyspace || this.stopped) return;
    if (this.current) {
      logger.info({ model, from: this.current.keyspace, to: keyspace }, 'the serving keyspace changed: moving the projector');
      await this.current.projector.stop();
      this.current = undefined;
    }
    try {
      await this.run(keyspace);
    } catch (error) {
      logger.error({ err: error, model, keyspace }, 'could not start the projector in the serving keyspace; trying again at the next poll');
    }
  }
}
