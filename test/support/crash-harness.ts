// The stateful-runtime crash tests' harness: what a test keeps between its
// cases (topic runs, state directories, children to kill -9, runtimes started
// in the test's own process, the producer placing its orders) and cleans up
// after them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import { unique, withAdmin } from './kafka';
import { waitFor } from '../../infra/wait-for';
import { countBy, createFulfilmentTopics, fulfilmentTopicNames, orderEventsOf, placed, readRecords, type FulfilmentTopics, type StoredRecord } from './process-managers';
import { produceEnvelopes } from './read-side';
import { crashChild, crashTopics, type CrashChild } from './stateful-crash';

/**
 * What a crash test keeps between its cases and cleans up after them: its
 * topic runs, state directories, children and in-process runtimes, and the
 * producer that places its orders.
 */
export class CrashHarness {
  readonly producer: Producer;
  private readonly dirs: string[] = [];
  private readonly runs: string[] = [];
  private readonly children = new Set<CrashChild>();
  private readonly running = new Set<{ stop(): Promise<void> }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly name: string,
    readonly partitions = 6,
    /** Environment every child gets (e.g. the position store). */
    private readonly childEnv: Readonly<Record<string, string>> = {},
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  async start(): Promise<void> {
    await this.producer.connect();
  }

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), `${this.name}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** A run's own topics, created. */
  async topicsOfRun(prefix: string): Promise<FulfilmentTopics & { readonly run: string }> {
    const run = unique(prefix);
    this.runs.push(run);
    const made = crashTopics(run);
    await createFulfilmentTopics(this.kafka, made, this.partitions);
    return { ...made, run };
  }

  child(args: string[], env: Readonly<Record<string, string>> = {}): CrashChild {
    const c = crashChild(args, { ...this.childEnv, ...env });
    this.children.add(c);
    return c;
  }

  async kill(run: CrashChild): Promise<void> {
    await run.kill();
    this.children.delete(run);
  }

  /** A runtime started in this process, stopped at cleanup unless `stop`ped before. */
  async started<R extends { start(): Promise<void>; stop(): Promise<void> }>(runtime: R): Promise<R> {
    await runtime.start();
    this.running.add(runtime);
    return runtime;
  }

  async stop(runtime: { stop(): Promise<void> }): Promise<void> {
    await runtime.stop();
    this.running.delete(runtime);
  }

  /**
   * Places the orders, runs a child that hangs right after its first round's
   * commit (before the store write), and kills it there: the partition that
   * round committed. `env`: the child's own additions to the harness's.
   */
  async killedAfterCommit(made: FulfilmentTopics & { readonly run: string }, orders: readonly string[], stateDir: string, paymentTimeoutMs: number, env: Readonly<Record<string, string>> = {}): Promise<number> {
    await this.place(made, orders);
    const doomed = this.child(['hang-after-commit', made.run, stateDir, String(paymentTimeoutMs)], env);
    const line = await waitFor('the child to commit its first round', async () => doomed.lines.find((l) => l.startsWith('committed ')), 90_000);
    await this.kill(doomed);
    return Number(line.split(' ')[1]);
  }

  /** One OrderPlaced per order, on the run's order events. */
  async place(made: FulfilmentTopics, orders: readonly string[]): Promise<void> {
    await produceEnvelopes(this.producer, this.codec, orderEventsOf(made, this.partitions), orders.map((o) => placed(o, { quantity: 1 })));
  }

  /**
   * Waits until every order has its payment request and its CancelOrder (its
   * deadline fired), then checks each was written once and that no state was
   * written twice (`isState` picks the states among the changelog's records).
   * Returns the changelog.
   */
  async everyOrderDecidedOnce(made: FulfilmentTopics, orders: readonly string[], isState: (r: StoredRecord) => boolean = () => true): Promise<StoredRecord[]> {
    const has = (records: readonly StoredRecord[], key: (o: string) => string): boolean => orders.every((o) => records.some((r) => r.key === key(o)));
    const requests = await waitFor(
      'a payment request per order',
      async () => {
        const found = (await readRecords(this.kafka, made.topics.paymentRequests, this.codec)).filter((r) => r.type === 'PaymentRequested');
        return has(found, (o) => `${o}/1`) ? found : undefined;
      },
      120_000,
    );
    const cancels = await waitFor(
      'every order to time out (its deadline fired)',
      async () => {
        const found = await readRecords(this.kafka, made.topics.orderCommands, this.codec);
        return has(found, (o) => o) ? found : undefined;
      },
      120_000,
    );
    // No decision twice: one request and one CancelOrder per order, nothing else.
    expect(requests).toHaveLength(orders.length);
    expect([...countBy(requests, (r) => r.key).values()].every((n) => n === 1)).toBe(true);
    expect(cancels.map((r) => r.type)).toEqual(orders.map(() => 'CancelOrder'));
    expect([...countBy(cancels, (r) => r.key).values()].every((n) => n === 1)).toBe(true);
    // No state written twice: each order's changelog records are all different states.
    const changelog = await readRecords(this.kafka, made.topics.changelog, this.codec);
    const states = changelog.filter(isState);
    expect(states.every((r) => r.value !== null)).toBe(true);
    const byKey = new Map<string, string[]>();
    for (const r of states) byKey.set(r.key, [...(byKey.get(r.key) ?? []), JSON.stringify(r.value)]);
    for (const values of byKey.values()) expect(new Set(values).size).toBe(values.length);
    return changelog;
  }

  async cleanUp(): Promise<void> {
    for (const c of this.children) await c.kill();
    for (const r of [...this.running]) await r.stop();
    await this.producer.disconnect();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    await withAdmin(this.kafka, async (admin) => {
      for (const run of this.runs) {
        const made = crashTopics(run);
        await admin.deleteGroups([made.groupId]).catch(() => undefined);
        await admin.deleteTopics({ topics: fulfilmentTopicNames(made) }).catch(() => undefined);
      }
    });
  }
}
