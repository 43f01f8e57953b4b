/**
 * Roles starting together on an empty registry register the same new subjects
 * at once. Every one of them gets the schema's id, and the subject ends at the
 * project's compatibility level: none is refused because another, slower one
 * had registered the first version but not yet set the level (the registry
 * then answers its default, NONE, for the subject; infra/kafka/codec.ts).
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroCodec } from '../../infra/kafka/codec';
import { config } from '../../infra/config';
import { allTopicSpecs } from '../../infra/kafka/topics';
import { topicCatalog } from '../../schemas/topics';
import { unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

jest.setTimeout(60_000);

const REGISTRANTS = 3;
/** Every subject of the catalog, as each role registers them when it starts (infra/kafka/topics.ts registerSubjects). */
const SUBJECTS = allTopicSpecs(topicCatalog({ replicationFactor: 1, minInsyncReplicas: 1 })).flatMap((t) => t.subjects.map((s) => [t.name, s.recordName] as const));

const levelOf = async (subject: string): Promise<string | undefined> => {
  const res = await fetch(`${config().registry.url}/config/${subject}`);
  return res.ok ? ((await res.json()) as { compatibilityLevel?: string }).compatibilityLevel : undefined;
};

it('registers a new subject while another process is slow to finish registering it', async () => {
  const topic = `${unique('it-race-slow')}.restaurant.order.events`;
  const record = 'restaurant.order.OrderPlaced';
  const subject = `${topic}-${record}`;
  // A process that pauses two seconds before setting the subject's level (a loaded machine, a GC pause, a kill).
  const slowClient = new SchemaRegistry({ host: config().registry.url });
  const api = (slowClient as unknown as { api: { Subject: { updateConfig: (params: unknown) => Promise<unknown> } } }).api;
  const update = api.Subject.updateConfig.bind(api.Subject);
  let updating = false;
  api.Subject.updateConfig = async (params: unknown) => {
    updating = true;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    return update(params);
  };
  const slow = new AvroCodec(slowClient).schemaId(topic, record);
  // The other starts while the slow one is in the middle: its level update under way, or its first version registered.
  const versions = async (): Promise<boolean> => (await fetch(`${config().registry.url}/subjects/${subject}/versions`)).ok;
  await waitFor('the slow registration under way', async () => (updating || (await versions()) ? true : undefined), 20_000, 20);
  const other = await new AvroCodec(new SchemaRegistry({ host: config().registry.url })).schemaId(topic, record);
  expect(await slow).toBe(other);
  expect(await levelOf(subject)).toBe('BACKWARD_TRANSITIVE');
});

it('registers new subjects from many processes at once: each gets the id, the subject ends BACKWARD_TRANSITIVE', async () => {
  const prefix = unique('it-race');
  // One codec per "process": each its own registry client, with nothing cached.
  const codecs = Array.from({ length: REGISTRANTS }, () => new AvroCodec(new SchemaRegistry({ host: config().registry.url })));
  // Each registrant goes through the subjects one after the other, as a role does; the registrants run at once.
  const perCodec = await Promise.all(
    codecs.map(async (codec) => {
      const outcomes: PromiseSettledResult<number>[] = [];
      for (const [topic, record] of SUBJECTS) outcomes.push(...(await Promise.allSettled([codec.schemaId(`${prefix}.${topic}`, record)])));
      return outcomes;
    }),
  );
  const results = perCodec.flatMap((outcomes) => outcomes);
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
  expect(refused).toEqual([]);
  expect(SUBJECTS.length).toBeGreaterThan(10);

  for (const [i, [topic, record]] of SUBJECTS.entries()) {
    const ids = new Set(results.filter((_, n) => n % SUBJECTS.length === i).map((r) => (r as PromiseFulfilledResult<number>).value));
    expect(ids.size).toBe(1);
    const subject = `${prefix}.${topic}-${record}`;
    expect(await levelOf(subject)).toBe('BACKWARD_TRANSITIVE');
  }
});
