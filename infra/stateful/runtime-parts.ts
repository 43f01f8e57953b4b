// Several definitions per task (docs/stateful-runtime.md "Several definitions
// per task"): a runtime is given its definitions as parts, each with its own
// inputs, changelog (one store per task), fold version, positions, sequenced
// topics and parking, sharing the task's producer, queue, rounds and
// transactions. A runtime given one `definition` is the one-part case.
import type { TopicCatalog } from '../../schemas/topics';
import type { StatefulDefinition } from './definition';
import { foldVersionOfDefinition } from './partition-state';
import type { PositionsMode } from './position-store';
import { parkingContextOf } from './round-parking';
import type { DecideContext } from './round';
import type { StatefulRuntimeOptions } from './runtime-options';

/** One definition of a task: its changelog (catalog topic) and, when it parks, its parked topic. */
export interface StatefulPart {
  // The runtime sees a part's states and inputs as opaque values: `statefulPart` keeps each definition's own types checked.
  readonly definition: StatefulDefinition<unknown, unknown>;
  readonly changelog: string;
  readonly parkedTopic?: string;
}

/** A part with its definition's types checked where it is written. */
export function statefulPart<S, I>(part: { readonly definition: StatefulDefinition<S, I>; readonly changelog: string; readonly parkedTopic?: string }): StatefulPart {
  return part as unknown as StatefulPart;
}

/** A runtime given several parts instead of one definition (everything else as a one-definition runtime). */
export type PartsRuntimeOptions = Omit<StatefulRuntimeOptions<unknown, unknown>, 'definition' | 'changelog' | 'parkedTopic'> & {
  readonly parts: readonly StatefulPart[];
  /** For logs and stats (default: the parts' names joined with "+"). */
  readonly name?: string;
};

export type AnyRuntimeOptions<S, I> = StatefulRuntimeOptions<S, I> | PartsRuntimeOptions;

/** A part as the runtime runs it. */
export interface RuntimePart<S, I> {
  readonly index: number;
  readonly definition: StatefulDefinition<S, I>;
  readonly ctx: DecideContext<S, I>;
  /** Physical input topics. */
  readonly inputs: readonly string[];
  /** Physical topics consumed: the inputs, and the parked topic when parking. */
  readonly consumed: readonly string[];
  readonly foldVersion: number;
}

/** The position store's group-keyed input of a part (`checkpointKey: 'group'`: its one input). */
export const groupKeyedOf = (part: { readonly definition: Pick<StatefulDefinition<unknown, unknown>, 'checkpointKey'>; readonly inputs: readonly string[] }): { readonly groupKeyed?: string } =>
  part.definition.checkpointKey === 'group' && part.inputs[0] !== undefined ? { groupKeyed: part.inputs[0] } : {};

/**
 * What the runtime's one consumer routes in: every part's types (and
 * ParkingRequest when a part parks), and the inputs of parts that dead-letter
 * records of types they do not handle (`unhandled: 'dead-letter'`).
 */
export function consumerRouting<S, I>(parts: ReadonlyArray<RuntimePart<S, I>>): { readonly handles: ReadonlySet<string>; readonly deadLetterUnhandled: ReadonlySet<string> } {
  return {
    handles: new Set([...parts.flatMap((p) => [...p.definition.handles]), ...(parts.some((p) => p.ctx.parking !== undefined) ? ['ParkingRequest'] : [])]),
    deadLetterUnhandled: new Set(parts.filter((p) => p.definition.unhandled === 'dead-letter').flatMap((p) => p.inputs)),
  };
}

/** The parts of the options: the one definition of a single-definition runtime is a part like any other. */
export function partsOf<S, I>(options: AnyRuntimeOptions<S, I>): readonly StatefulPart[] {
  if ('parts' in options) return options.parts;
  return [statefulPart({ definition: options.definition, changelog: options.changelog, ...(options.parkedTopic === undefined ? {} : { parkedTopic: options.parkedTopic }) })];
}

export interface PartsWhere {
  readonly catalog: TopicCatalog;
  readonly physical: (topic: string) => string;
  readonly codec: DecideContext<unknown, unknown>['codec'];
  readonly groupId: string;
  readonly clock: () => number;
}

/**
 * The runtime's parts, checked: one partition count for every input,
 * changelog and parked topic; inputs (and parked topics) disjoint between
 * parts, each changelog one part's; one positions mode for all.
 */
export function runtimeParts<S, I>(name: string, parts: readonly StatefulPart[], where: PartsWhere): { readonly parts: ReadonlyArray<RuntimePart<S, I>>; readonly partitions: number; readonly positions: PositionsMode } {
  if (parts.length === 0) throw new Error(`${name}: a runtime needs at least one definition`);
  const counts = new Set<number>();
  const owners = new Map<string, string>();
  const claim = (topic: string, owner: string, what: string): void => {
    const other = owners.get(topic);
    if (other !== undefined) {
      throw new Error(`${name}: ${topic} is ${what} of both ${other} and ${owner}; the parts of a runtime must have disjoint inputs and changelogs (docs/stateful-runtime.md "Several definitions per task")`);
    }
    owners.set(topic, owner);
  };
  const modes = new Set(parts.map((p) => p.definition.positions ?? 'group'));
  if (modes.size > 1) throw new Error(`${name}: the parts keep their positions in different places (${[...modes].join(', ')}); a runtime's parts must share one positions mode`);
  const out = parts.map((part, index): RuntimePart<S, I> => {
    const definition = part.definition as unknown as StatefulDefinition<S, I>;
    for (const topic of definition.inputs) {
      counts.add(where.catalog.topic(topic).partitions);
      claim(where.physical(topic), definition.name, 'an input');
    }
    const changelog = where.catalog.topic(part.changelog);
    counts.add(changelog.partitions);
    claim(where.physical(changelog.name), definition.name, 'the changelog');
    const parking = parkingContextOf(definition, part.parkedTopic, { ...where, changelogPartitions: changelog.partitions });
    if (parking !== undefined) claim(parking.physical, definition.name, 'the parked topic');
    const inputs = definition.inputs.map(where.physical);
    if (definition.checkpointKey === 'group' && ((definition.positions ?? 'group') !== 'changelog' || inputs.length !== 1))
      throw new Error(`${definition.name}: checkpointKey 'group' needs positions 'changelog' and exactly one input, got ${definition.positions ?? 'group'} and ${inputs.length}`);
    return {
      index,
      definition,
      inputs,
      consumed: parking === undefined ? inputs : [...inputs, parking.physical],
      foldVersion: foldVersionOfDefinition(definition),
      ctx: {
        definition,
        codec: where.codec,
        catalog: where.catalog,
        physical: where.physical,
        changelog: { logical: changelog.name, physical: where.physical(changelog.name), partitions: changelog.partitions },
        ...(parking === undefined ? {} : { parking }),
      },
    };
  });
  if (counts.size !== 1) throw new Error(`${name}: inputs and changelog must share one partition count, got ${[...counts].join(', ')}`);
  return { parts: out, partitions: [...counts][0] as number, positions: [...modes][0] ?? 'group' };
}
