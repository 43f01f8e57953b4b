// The process-manager runtime (docs/process-managers.md "The runtime"): the
// stateful runtime (infra/stateful/, docs/stateful-runtime.md) with a process
// manager's definition, whose name picks its changelog topic and consumer group
// in the catalog.
import { topicCatalog } from '../../../schemas/topics';
import { StatefulRuntime, type StatefulRuntimeOptions } from '../../../infra/stateful/runtime';
import type { StatefulStats } from '../../../infra/stateful/stats';
import type { ProcessDefinition } from './definition';

export type ProcessManagerStats = StatefulStats;

export interface ProcessManagerRuntimeOptions<S, I> extends Omit<StatefulRuntimeOptions<S, I>, 'changelog' | 'groupId' | 'definition'> {
  readonly definition: ProcessDefinition<S, I>;
  /** Default: the definition's group. */
  readonly groupId?: string;
}

export class ProcessManagerRuntime<S, I> extends StatefulRuntime<S, I> {
  constructor(options: ProcessManagerRuntimeOptions<S, I>) {
    const catalog = options.catalog ?? topicCatalog();
    const parked = catalog.parked(options.definition.name).name;
    // A runtime on topics of its own (tests, benches) parks only when its topic map gives the parked topic one too.
    const parks = options.definition.parking !== undefined && (options.topicMap === undefined || options.topicMap[parked] !== undefined);
    super({
      ...options,
      catalog,
      changelog: catalog.changelog(options.definition.name).name,
      groupId: options.groupId ?? options.definition.groupId,
      ...(parks ? { parkedTopic: parked } : {}),
    });
  }
}
