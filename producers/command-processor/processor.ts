// The command processor (docs/command-side.md "The command processor"): ONE
// StatefulRuntime whose parts are the command definitions (command-definition.ts)
// of every aggregate type with a commands topic, each with its snapshots topic
// as changelog and `<commands>.parked` as parked topic, in the processor's group.
// It offers what app/ needs: start, stop, notReady, broken, commandTopics,
// aggregatesHeld, parkedAggregates.
import { StatefulRuntime, statefulPart } from '../../infra/stateful/runtime';
import type { StatefulDefinition } from '../../infra/stateful/definition';
import type { StatefulStats } from '../../infra/stateful/stats';
import { commandParkingName, TOPIC_PREFIX, topicCatalog } from '../../schemas/topics';
import { aggregateRuntimes } from './aggregates';
import { commandDefinition, commandTopicsOf, type CommandInput } from './command-definition';
import type { CommandState } from './command-state';
import type { CommandProcessorOptions } from './processor-options';
import { meteredDefinition, RuntimeTransactionMeter, transactionDurations } from './runtime-metrics';

/** With another TOPIC_PREFIX, the group (and so its transactional ids and checkpoints) is that topic set's own. */
export const DEFAULT_GROUP = `${TOPIC_PREFIX}.command-processor`;

export type { CommandProcessorOptions } from './processor-options';

export class CommandProcessor {
  readonly groupId: string;
  readonly runtime: StatefulRuntime<unknown, unknown>;
  private readonly topics: string[] = [];
  /** Part name (`order-commands`) → aggregate type, for the per-aggregate gauges. */
  private readonly aggregateOfPart = new Map<string, string>();
  private readonly meter: RuntimeTransactionMeter | undefined;

  constructor(options: CommandProcessorOptions) {
    this.groupId = options.groupId ?? DEFAULT_GROUP;
    const catalog = options.catalog ?? topicCatalog();
    const parts = Object.values({ ...aggregateRuntimes(options.context), ...options.aggregates }).map((runtime) => {
      const topics = commandTopicsOf(catalog, runtime);
      this.topics.push(topics.commands);
      this.aggregateOfPart.set(commandParkingName(runtime.aggregate), runtime.aggregate);
      const base: StatefulDefinition<CommandState, CommandInput> = commandDefinition({ runtime, catalog, groupId: this.groupId, ...(options.clock === undefined ? {} : { clock: options.clock }) });
      const definition = options.metrics === undefined ? base : meteredDefinition(base, runtime.aggregate, topics.events, options.metrics);
      return statefulPart({ definition, changelog: topics.snapshots, parkedTopic: topics.parked });
    });
    this.runtime = new StatefulRuntime<unknown, unknown>({
      kafka: options.kafka,
      codec: options.codec,
      logger: options.logger,
      name: 'command-processor',
      parts,
      catalog,
      groupId: this.groupId,
      // The processor's transactional ids (`<group>.p<p>`, `<group>.p<first>-<last>` for groups of k), as builds before the
      // runtime used: they fence each other; k partitions per task share one producer and transaction (COMMAND_PARTITIONS_PER_WORKER).
      transactionalIdPrefix: `${this.groupId}.p`,
      partitionsPerTask: options.partitionsPerWorker ?? 1,
      ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
      changelogEpoch: options.changelogEpoch ?? '1',
      ...(options.decodedCapacity === undefined ? {} : { decodedCapacity: options.decodedCapacity }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.restoreFetchBytes === undefined ? {} : { restoreFetchBytes: options.restoreFetchBytes }),
      // The runtime's restore progress names no changelog: the topic is given as ''.
      ...(options.onRestoreProgress === undefined ? {} : { onRestoreProgress: (partition: number, offset: number) => options.onRestoreProgress?.('', partition, offset) ?? Promise.resolve() }),
      ...(options.betweenCommitAndStore === undefined ? {} : { betweenCommitAndStore: (partition: number) => options.betweenCommitAndStore?.([partition]) ?? Promise.resolve() }),
      // restaurant_command_transaction_duration_seconds, per committed round, under aggregate="all" (runtime-metrics.ts).
      ...(options.metrics === undefined ? {} : { onTransactionCommitted: transactionDurations(options.metrics) }),
    });
    this.meter = options.metrics === undefined ? undefined : new RuntimeTransactionMeter(() => this.runtime.stats(), options.metrics);
  }

  get commandTopics(): string[] {
    return [...this.topics];
  }

  async start(): Promise<void> {
    await this.runtime.start();
    this.meter?.start();
  }

  async stop(): Promise<void> {
    this.meter?.stop();
    await this.runtime.stop();
    this.meter?.flush();
  }

  notReady(): string | undefined {
    return this.runtime.notReady();
  }

  broken(): string | undefined {
    return this.runtime.broken();
  }

  stats(): StatefulStats {
    return this.runtime.stats();
  }

  /** Aggregates held on the owned partitions (in the on-disk stores), by aggregate type. */
  aggregatesHeld(): Map<string, { held: number }> {
    return this.byAggregate((p) => ({ held: p.instances }));
  }

  /** Aggregates parked on the owned partitions, and the commands parked in them, by aggregate type. */
  parkedAggregates(): Map<string, { aggregates: number; commands: number }> {
    return this.byAggregate((p) => ({ aggregates: p.parkedProcesses, commands: p.parkedInputs }));
  }

  private byAggregate<T>(of: (part: NonNullable<StatefulStats['parts']>[number]) => T): Map<string, T> {
    const stats = this.runtime.stats();
    const parts = stats.parts ?? [{ name: stats.name, instances: stats.instances, instancesByState: stats.instancesByState, pendingDeadlines: 0, parkedProcesses: stats.parkedProcesses, parkedInputs: stats.parkedInputs }];
    return new Map(parts.map((p) => [this.aggregateOfPart.get(p.name) ?? p.name, of(p)]));
  }
}
