// Several definitions per task (docs/stateful-runtime.md "Several definitions per task"): routing work
// and offsets to the part owning each topic, the runtime's refusals at construction, and one
// transaction writing every part's states into its own changelog (with and without sequenced topics),
// each part's store offset read from the produce response.
import type { Admin, Message, Producer, RecordMetadata } from 'kafkajs';
import { rootLogger } from '../../../../infra/logging';
import { waitFor } from '../../../../infra/wait-for';
import { DeadlineScheduler, type SchedulerTask } from '../../../../infra/stateful/deadline-scheduler';
import type { AvroCodec } from '../../../../infra/kafka/codec';
import type { PartitionBatch } from '../../../../infra/consuming/batch-sink';
import type { QueuedDeadline } from '../../../../infra/stateful/deadline-queue';
import { ownersOf, routeWork, splitOffsets } from '../../../../infra/stateful/part-routing';
import { emptyRound, type Round } from '../../../../infra/stateful/round';
import { consumerRouting, groupKeyedOf, runtimeParts, statefulPart, type PartsWhere } from '../../../../infra/stateful/runtime-parts';
import { sequencedParts, sequencingOf, type Sequencing } from '../../../../infra/stateful/sequenced-round';
import { zeroCounts } from '../../../../infra/stateful/task';
import { transactParts } from '../../../../infra/stateful/transact';
import { orderFulfilmentProcess } from '../../../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { paymentSimulatorProcess } from '../../../../consumers/payment-simulator/payment-simulator.process';
import { topicCatalog, type ProcessManagerName, type TopicCatalog } from '../../../../schemas/topics';
import type { StatefulDefinition } from '../../../../infra/stateful/definition';

const batchOf = (topic: string): PartitionBatch => ({ topic, partition: 0, records: [], deadLetters: [], nextOffset: 1, consumedUpTo: 1 }) as unknown as PartitionBatch;
const due = (processId: string, part?: number): QueuedDeadline => ({ fireAt: 1, dueAt: 1, partition: 0, processId, name: 'd', epoch: 1, ...(part === undefined ? {} : { part }) });

describe('routing work to parts', () => {
  const owners = ownersOf([{ consumed: ['a.events', 'a.results'] }, { consumed: ['b.requests', 'b.parked'] }]);

  it('knows which part consumes each topic, parked topics included', () => {
    expect([...owners]).toEqual([
      ['a.events', 0],
      ['a.results', 0],
      ['b.requests', 1],
      ['b.parked', 1],
    ]);
  });

  it('routes a batch to the part consuming its topic, and refuses a topic no part consumes', () => {
    expect(routeWork({ kind: 'batch', batch: batchOf('b.parked') }, owners).map((p) => p.part)).toEqual([1]);
    expect(routeWork({ kind: 'batch', batch: batchOf('a.results') }, owners).map((p) => p.part)).toEqual([0]);
    expect(() => routeWork({ kind: 'batch', batch: batchOf('elsewhere') }, owners)).toThrow(/no part of the task consumes elsewhere/);
  });

  it('splits due deadlines by the part that set them (no part: the first), in order within each, and routes a flush nowhere', () => {
    const routed = routeWork({ kind: 'deadlines', due: [due('x', 1), due('y'), due('z', 1), due('w', 0)] }, owners);
    expect(routed.map(({ part, work }) => [part, work.kind === 'deadlines' ? work.due.map((d) => d.processId) : []])).toEqual([
      [0, ['y', 'w']],
      [1, ['x', 'z']],
    ]);
    expect(routeWork({ kind: 'flush' }, owners)).toEqual([]);
  });

  it('splits a round\'s offsets into one map per part', () => {
    const split = splitOffsets(new Map([['a.events', 5], ['b.parked', 2], ['a.results', 9]]), owners, 2);
    expect(split.map((m) => Object.fromEntries(m))).toEqual([{ 'a.events': 5, 'a.results': 9 }, { 'b.parked': 2 }]);
    expect(() => splitOffsets(new Map([['elsewhere', 1]]), owners, 2)).toThrow(/no part of the task consumes elsewhere/);
  });
});

describe('the parts of a runtime, checked at construction', () => {
  const catalog = topicCatalog();
  const where: PartsWhere = { catalog, physical: (t) => t, codec: {} as AvroCodec, groupId: 'g', clock: Date.now };
  const facts = { factsFor: () => Promise.resolve([]) };
  const fulfilment = orderFulfilmentProcess({ facts });
  const simulator = paymentSimulatorProcess({ seed: 'seed' });
  const part = <S, I>(definition: StatefulDefinition<S, I>, changelog: ProcessManagerName, parkedTopic?: string) =>
    statefulPart({ definition, changelog: catalog.changelog(changelog).name, ...(parkedTopic === undefined ? {} : { parkedTopic }) });

  it('takes definitions with disjoint inputs, each with its changelog and parked topic', () => {
    const made = runtimeParts('both', [part(fulfilment, 'order-fulfilment'), part(simulator, 'payment-simulator', catalog.parked('payment-simulator').name)], where);
    expect(made.partitions).toBe(catalog.topic('restaurant.order.events').partitions);
    expect(made.positions).toBe('group');
    expect(made.parts.map((p) => [p.definition.name, p.ctx.changelog.logical, p.consumed])).toEqual([
      ['order-fulfilment', 'restaurant.order-fulfilment.changelog', ['restaurant.order.events', 'restaurant.payment.results']],
      ['payment-simulator', 'restaurant.payment-simulator.changelog', ['restaurant.payment.requests', 'restaurant.payment-simulator.parked']],
    ]);
  });

  it('refuses parts whose inputs overlap, naming the topic and both parts', () => {
    const twice: StatefulDefinition<unknown, unknown> = { ...(fulfilment as unknown as StatefulDefinition<unknown, unknown>), name: 'order-fulfilment-again' };
    expect(() => runtimeParts('both', [part(fulfilment, 'order-fulfilment'), part(twice, 'payment-simulator')], where)).toThrow(
      /both: restaurant\.order\.events is an input of both order-fulfilment and order-fulfilment-again; the parts of a runtime must have disjoint inputs/,
    );
  });

  it('refuses two parts on one changelog, parts keeping positions in different places, and no part at all', () => {
    expect(() => runtimeParts('both', [part(fulfilment, 'order-fulfilment'), part(simulator, 'order-fulfilment')], where)).toThrow(/restaurant\.order-fulfilment\.changelog is the changelog of both/);
    expect(() => runtimeParts('both', [part(fulfilment, 'order-fulfilment'), part({ ...simulator, positions: 'changelog' }, 'payment-simulator')], where)).toThrow(/different places \(group, changelog\)/);
    expect(() => runtimeParts('none', [], where)).toThrow(/at least one definition/);
  });

  it("refuses checkpointKey 'group' without changelog positions or with several inputs; routes what parts dead-letter", () => {
    expect(() => runtimeParts('one', [part({ ...simulator, checkpointKey: 'group' }, 'payment-simulator')], where)).toThrow(/checkpointKey 'group' needs positions 'changelog' and exactly one input, got group and 1/);
    expect(() => runtimeParts('one', [part({ ...fulfilment, positions: 'changelog', checkpointKey: 'group' }, 'order-fulfilment')], where)).toThrow(/got changelog and 2/);
    const made = runtimeParts('both', [part(fulfilment, 'order-fulfilment'), part({ ...simulator, positions: 'group', unhandled: 'dead-letter' }, 'payment-simulator', catalog.parked('payment-simulator').name)], where);
    const routing = consumerRouting(made.parts);
    expect(routing.deadLetterUnhandled).toEqual(new Set(['restaurant.payment.requests']));
    expect(routing.handles.has('ParkingRequest')).toBe(true);
    expect(groupKeyedOf({ definition: { checkpointKey: 'group' }, inputs: ['in'] })).toEqual({ groupKeyed: 'in' });
    expect(groupKeyedOf({ definition: {}, inputs: ['in'] })).toEqual({});
  });
});

/** Partition logs: each batch takes its records' offsets, each commit or abort one more per partition it touched. */
function logs(): { producer: Producer; committed: Array<{ topic: string; offset: number; message: Message }>; ends: Map<string, number> } {
  const ends = new Map<string, number>();
  const committed: Array<{ topic: string; offset: number; message: Message }> = [];
  const transaction = (): unknown => {
    const touched = new Set<string>();
    const pending: typeof committed = [];
    const end = (aborted: boolean): Promise<void> => {
      for (const key of touched) ends.set(key, (ends.get(key) ?? 0) + 1);
      if (!aborted) committed.push(...pending);
      return Promise.resolve();
    };
    return Promise.resolve({
      sendBatch: ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: Message[] }> }): Promise<RecordMetadata[]> => {
        const [{ topic, messages }] = topicMessages as [{ topic: string; messages: Message[] }];
        const key = `${topic}:${String(messages[0]?.partition)}`;
        touched.add(key);
        const base = ends.get(key) ?? 0;
        messages.forEach((message, i) => pending.push({ topic, offset: base + i, message }));
        ends.set(key, base + messages.length);
        return Promise.resolve([{ topicName: topic, partition: messages[0]?.partition ?? 0, errorCode: 0, baseOffset: String(base) }]);
      },
      sendOffsets: () => Promise.resolve(),
      commit: () => end(false),
      abort: () => end(true),
    });
  };
  return { producer: { transaction } as unknown as Producer, committed, ends };
}

const encode = (value: unknown): Promise<Buffer> => Promise.resolve(Buffer.from(JSON.stringify(value)));
const positions = { records: [], sendOffsets: true };

/** A round of one part changing `ids` (the same ids in both parts: states are per part). */
function statesRound(ids: readonly string[], tag: string): Round<unknown> {
  const round = emptyRound<unknown>();
  for (const id of ids) round.states.set(id, { state: { tag }, trace: {}, record: { key: id, value: Buffer.from(tag), partition: 2 } });
  return round;
}

describe('one transaction for every part', () => {
  it('writes each part\'s states to its own changelog and reads each part\'s store offset from the produce response', async () => {
    const log = logs();
    log.ends.set('a.changelog:2', 10); // the changelogs are at different offsets
    const writes = [
      { changelog: 'a.changelog', round: statesRound(['p', 'q'], 'a'), positions },
      { changelog: 'b.changelog', round: statesRound(['p'], 'b'), positions },
      { changelog: 'c.changelog', round: emptyRound<unknown>(), positions },
    ];
    const { changelogOffsets } = await transactParts(log.producer, { groupId: 'g', partition: 2 }, writes, new Map([['in', 3]]));
    expect(changelogOffsets).toEqual([12, 1, undefined]);
    expect(log.committed.map((r) => `${r.topic}@${r.offset}:${String(r.message.key)}=${String(r.message.value)}`)).toEqual(['a.changelog@10:p=a', 'a.changelog@11:q=a', 'b.changelog@0:p=b']);
  });

  it('with sequenced topics of two parts: predicted in one transaction, each part\'s states completed with its own offsets', async () => {
    const log = logs();
    const catalog = { topic: () => ({ partitions: 4 }) } as unknown as TopicCatalog;
    const codec = { encode: (_t: string, _n: string, value: unknown) => encode(value) } as unknown as AvroCodec;
    const sequencing = sequencingOf([{ sequenced: ['a.events'] }, { sequenced: ['b.events'] }], { codec, catalog, physical: (t) => t }).sequencing as Sequencing;
    const counts = zeroCounts();
    /** Part `tag` emits one event of process p to its sequenced topic; the state remembers the offset it landed at. */
    const part = (tag: string): Round<unknown> => {
      const round = statesRound(['p'], tag);
      const message: Message = { key: `${tag}-e`, value: Buffer.from('event'), partition: 2 };
      round.emit.push({ topic: `${tag}.events`, type: 'Event', message });
      round.late.push({ processId: 'p', state: { tag }, encodeState: encode, complete: (state, offsets) => ({ ...(state as object), at: offsets[0]?.offset }), trace: {}, refs: [{ message, topic: `${tag}.events`, physical: `${tag}.events`, id: `${tag}-e` }] });
      return round;
    };
    log.ends.set('b.events:2', 7);
    for (let i = 0; i < 2; i += 1) {
      const writes = [
        { changelog: 'a.changelog', round: part('a'), positions },
        { changelog: 'b.changelog', round: part('b'), positions },
      ];
      const committed = await sequencedParts(sequencing, { producer: log.producer }, { groupId: 'g', partition: 2 }, writes, new Map(), counts);
      // Each event lands past the last transaction's marker; each part's store gets its own state, completed with its own event's offset.
      const at = { a: i === 0 ? 0 : 2, b: i === 0 ? 7 : 9 };
      expect(writes.map((w) => w.round.states.get('p')?.state)).toEqual([{ tag: 'a', at: at.a }, { tag: 'b', at: at.b }]);
      expect(committed.changelogOffsets).toEqual([2 * i + 1, 2 * i + 1]);
    }
    // The first round learned the offsets, the second predicted both parts' in one pass.
    expect(counts).toMatchObject({ offsetsPredicted: 1, offsetGuessesMissed: 0 });
    const stored = log.committed.filter((r) => r.topic.endsWith('.changelog')).map((r) => `${r.topic}:${String(r.message.value)}`);
    expect(stored).toEqual(['a.changelog:{"tag":"a","at":0}', 'b.changelog:{"tag":"b","at":7}', 'a.changelog:{"tag":"a","at":2}', 'b.changelog:{"tag":"b","at":9}']);
  });
});

describe('deadlines of a part', () => {
  it('wait for their own part\'s inputs only: one part\'s deadline fires while another part\'s input lags', async () => {
    const ends = new Map([['a.in', 5], ['b.in', 9]]);
    const admin = { fetchTopicOffsets: (topic: string) => Promise.resolve([{ partition: 0, high: String(ends.get(topic) ?? 0), low: '0', offset: '0' }]) } as unknown as Admin;
    const task: SchedulerTask & { positions: Map<string, number> } = { partition: 0, epoch: 1, retired: false, positions: new Map([['a.in', 5], ['b.in', 2]]), gates: [] };
    const fired: string[] = [];
    const scheduler = new DeadlineScheduler<typeof task>({
      clock: () => 1_000,
      log: rootLogger.child({}, { level: 'silent' }),
      inputs: ['a.in', 'b.in'],
      inputsOf: (part) => (part === 0 ? ['a.in'] : ['b.in']),
      task: () => task,
      pending: () => true,
      submit: (_task, due) => (fired.push(...due.map((d) => d.processId)), Promise.resolve()),
      admin: () => admin,
    });
    scheduler.push(due('of-a', 0));
    scheduler.push(due('of-b', 1));
    scheduler.arm();
    // Part a has read its input to the end: its deadline fires; part b's waits for b.in to reach 9.
    await waitFor('part a\'s deadline to fire', async () => (fired.includes('of-a') ? true : undefined), 5_000, 5);
    expect(fired).toEqual(['of-a']);
    expect(task.gates.map((g) => [...g.needs.keys()])).toEqual([['b.in']]);
    task.positions.set('b.in', 9);
    scheduler.openGates(task);
    expect(fired).toEqual(['of-a', 'of-b']);
    scheduler.stop();
  });
});
