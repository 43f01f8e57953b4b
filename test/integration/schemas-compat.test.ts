// The registry half of schemas:check against the real (Apicurio, ccompat API)
// registry of the local stack. Subjects are unique per run and deleted after.
import { randomUUID } from 'node:crypto';
import { config } from '../../infra/config';
import { checkAgainstRegistry, RegistryClient } from '../../schemas/compat/registry';
import { registryCandidates } from '../../schemas/compat/check';
import { loadSchemas } from '../../schemas/loader';

const client = new RegistryClient({ url: config().registry.url });
const run = randomUUID().slice(0, 8);
const created: string[] = [];

function dishServed(extraFields: object[], symbols: string[] = ['MAIN', 'DESSERT']): string {
  return JSON.stringify({
    type: 'record',
    name: 'DishServed',
    namespace: 'restaurant.test',
    doc: 'A dish was served.',
    fields: [
      { name: 'dishId', type: 'string', doc: 'Dish.' },
      { name: 'course', type: { type: 'enum', name: 'Course', symbols }, doc: 'Course.' },
      ...extraFields,
    ],
  });
}

async function subjectWithV1(label: string): Promise<string> {
  const subject = `test-${run}-${label}-restaurant.test.DishServed`;
  created.push(subject);
  await client.register(subject, dishServed([]));
  await client.setCompatibility(subject, 'BACKWARD_TRANSITIVE');
  return subject;
}

afterAll(async () => {
  for (const subject of created) await client.deleteSubject(subject);
});

describe('compatibility check against the schema registry', () => {
  it('accepts a field added with a default', async () => {
    const subject = await subjectWithV1('default');
    const report = await checkAgainstRegistry(client, [{ subject, schema: dishServed([{ name: 'table', type: ['null', 'string'], doc: 'Table.', default: null }]) }]);
    expect(report.reachable).toBe(true);
    expect(report.results).toEqual([{ subject, status: 'compatible' }]);
    expect(report.weakLevels).toEqual([]);
  });

  it('rejects a field added without a default', async () => {
    const subject = await subjectWithV1('nodefault');
    const report = await checkAgainstRegistry(client, [{ subject, schema: dishServed([{ name: 'table', type: 'string', doc: 'Table.' }]) }]);
    expect(report.results).toEqual([{ subject, status: 'incompatible', messages: expect.any(Array) }]);
  });

  it('rejects a removed enum symbol', async () => {
    const subject = await subjectWithV1('enum');
    const report = await checkAgainstRegistry(client, [{ subject, schema: dishServed([], ['MAIN']) }]);
    expect(report.results).toEqual([{ subject, status: 'incompatible', messages: expect.any(Array) }]);
  });

  it('treats a subject that is not registered yet as a first version', async () => {
    const subject = `test-${run}-absent-restaurant.test.DishServed`;
    const report = await checkAgainstRegistry(client, [{ subject, schema: dishServed([]) }]);
    expect(report.results).toEqual([{ subject, status: 'not-registered' }]);
  });

  it('accepts the project schemas registered under their own subjects, re-checked unchanged', async () => {
    const schemas = loadSchemas();
    const [first] = registryCandidates(schemas);
    if (first === undefined) throw new Error('the catalog has no subjects');
    const subject = `test-${run}-${first.subject}`;
    created.push(subject);
    await client.register(subject, first.schema);
    await client.setCompatibility(subject, 'BACKWARD_TRANSITIVE');
    const report = await checkAgainstRegistry(client, [{ subject, schema: first.schema }]);
    expect(report.results).toEqual([{ subject, status: 'compatible' }]);
  });

  it('skips, with a note, when the registry does not answer', async () => {
    const report = await checkAgainstRegistry(new RegistryClient({ url: 'http://127.0.0.1:9/apis/ccompat/v7', timeoutMs: 1000 }), []);
    expect(report).toMatchObject({ reachable: false, note: expect.stringContaining('registry check skipped') });
  });
});
