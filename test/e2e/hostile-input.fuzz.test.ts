/**
 * Hostile input on the real stack: the gateway and the query API, run as the
 * roles users run (`commands`: gateway and command processor; `query`;
 * `projectors`), are sent generated hostile requests over raw sockets: undecodable paths, bodies that are not
 * UTF-8 or not JSON, compressed bodies, foreign charsets, lying framing
 * headers, junk Authorization headers, malformed or impossible consistency
 * tokens, empty and repeated parameters, bytes that are not HTTP.
 *
 * Asserted for every request: an HTTP status below 500 (a 4xx for every
 * gateway request, each of which carries a defect that must get it refused),
 * no reset, no close before an answer, no wait. Asserted for the run: no
 * topic of the catalog (DLQs included) gained a record.
 *
 * A second property sends well-formed commands with values as odd as the
 * rules allow (emoji, RTL, zero-width text at the limits, odd ids and keys):
 * those may be accepted and write, so they run after the no-write check and
 * assert only: no 5xx, no reset.
 *
 * The process managers are left out on purpose: their timers (payment
 * deadlines of orders an earlier test left open) write on their own, and any
 * record appearing here must be one a request caused.
 *
 * Bounded for CI (FUZZ_RUNS, default 3000, fixed FUZZ_SEED); a longer run
 * and its figures are in docs/gateway.md, "Hostile input".
 */
import fc from 'fast-check';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { READ_MODELS } from '../../consumers/projections/shared/keys';
import { allTopicSpecs } from '../../infra/kafka/topics';
import { bearer } from '../support/auth';
import { acceptableShapeRequest } from '../support/hostile/accepted-cases';
import { gatewayCase } from '../support/hostile/gateway-cases';
import type { Header, HostileCase } from '../support/hostile/common';
import { queryCase } from '../support/hostile/query-cases';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { dropKeys } from '../support/read-side';
import { sendRaw, serialize, type RawOutcome } from '../support/raw-http';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_204);
/** Longer than any refused request may take; a token that made a query wait would hit it. */
const ANSWER_WITHIN_MS = 10_000;

jest.setTimeout(120_000 + RUNS * 40);

const kafka = testKafka('e2e-hostile-input');
const keyspace = unique('e2e-hostile').toLowerCase();
let gateway: RoleProcess;
let query: RoleProcess;
const roles: RoleProcess[] = [];

/** An admin's token: admin may use every route, so what refuses a request is its own defect. */
let adminAuthorization = '';

/**
 * Every generated request's headers pass through here: a request that
 * carries no Authorization of its own gets a valid admin bearer token, so
 * each request's own defect (not a missing token) is what gets it refused.
 * Generated Authorization values (garbage, `Bearer` alone, huge, alg:none)
 * are kept: they must be refused with a 4xx as well.
 */
function authorize(headers: readonly Header[]): Header[] {
  if (headers.some(([name]) => name.toLowerCase() === 'authorization')) return [...headers];
  return [['Authorization', adminAuthorization], ...headers];
}

type Ends = ReadonlyMap<string, string>;

/** Every partition's end offset of every topic of the catalog, dead-letter topics included. */
async function endOffsets(): Promise<Ends> {
  const topics = allTopicSpecs().map((t) => t.name);
  return withAdmin(kafka, async (admin) => {
    const ends = new Map<string, string>();
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, p.high);
    return ends;
  });
}

/** End offsets once they hold still for a second (the roles finish whatever earlier tests left them). */
async function settledEndOffsets(): Promise<Ends> {
  let last = await endOffsets();
  return waitFor(
    'end offsets to hold still',
    async () => {
      const now = await endOffsets();
      const same = [...now].every(([k, v]) => last.get(k) === v);
      last = now;
      return same ? now : undefined;
    },
    60_000,
    1_000,
  );
}

beforeAll(async () => {
  adminAuthorization = (await bearer('admin')).authorization ?? '';
  const env = { READ_MODEL_KEYSPACE: keyspace, CONSISTENCY_WAIT_MS: String(ANSWER_WITHIN_MS * 2), COMMAND_WAIT_MS: '2000' };
  roles.push(...(await Promise.all([startRole('commands', env), startRole('query', env), startRole('projectors', env)])));
  [gateway, query] = roles as [RoleProcess, RoleProcess];
  // The read models of a fresh keyspace are rebuilt first; until then the query API rightly answers 503 rebuilding.
  for (const path of ['/menu', '/kitchen/queue', '/orders/none', '/customers/none', '/stats/sales?from=2025-01-01&to=2025-01-02']) {
    await waitFor(`${path} to be served`, async () => ((await fetch(`${query.url}${path}`, { headers: { authorization: adminAuthorization } })).status < 500 ? true : undefined), 60_000);
  }
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop()));
  await withAdmin(kafka, (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace)))).catch(() => undefined);
  const redis = testRedis();
  await redis.connect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

const portOf = (c: HostileCase): number => Number(new URL(c.api === 'gateway' ? gateway.url : query.url).port);

function describeFailure(c: HostileCase, outcome: RawOutcome): string {
  const bytes = serialize(c.request);
  const preview = JSON.stringify(bytes.subarray(0, 400).toString('latin1'));
  return `${c.api} / ${c.defect}: ${outcome.kind === 'status' ? outcome.head.split('\r\n')[0] : `${outcome.kind}: ${outcome.detail}`}\nrequest (${bytes.length} bytes): ${preview}`;
}

it(`${RUNS} hostile requests to the gateway and the query API: no 5xx, no reset, no write`, async () => {
  const before = await settledEndOffsets();
  const tally = new Map<string, number>();
  let sent = 0;

  await fc.assert(
    fc.asyncProperty(fc.oneof(gatewayCase, queryCase), async (c) => {
      const request = c.request.raw === undefined ? { ...c.request, headers: authorize(c.request.headers) } : c.request;
      const outcome = await sendRaw(portOf(c), request, ANSWER_WITHIN_MS);
      sent += 1;
      const key = `${c.api} ${outcome.kind === 'status' ? outcome.status : outcome.kind}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (outcome.kind !== 'status') throw new Error(describeFailure(c, outcome));
      // Every gateway request carries a defect: anything but a 4xx means it was not refused.
      const acceptable = c.api === 'gateway' ? outcome.status >= 400 && outcome.status < 500 : outcome.status >= 200 && outcome.status < 500;
      if (!acceptable) throw new Error(describeFailure(c, outcome));
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: false },
  );

  const after = await settledEndOffsets();
  const moved = [...after].filter(([k, v]) => before.get(k) !== v).map(([k, v]) => `${k}: ${before.get(k) ?? 'absent'} → ${v}`);
  const distribution = [...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `  ${k.padEnd(16)} ${n}`);
  console.log(`hostile input: ${sent} requests (seed ${SEED}, ${RUNS} runs), ${before.size} partitions watched, ${moved.length} moved\n${distribution.join('\n')}`);

  expect(moved).toEqual([]);
  for (const r of roles) {
    expect(r.child.exitCode).toBeNull();
    expect((await fetch(`${r.opsUrl}/readyz`)).status).toBe(200);
  }
});

it(`${Math.ceil(RUNS / 10)} well-formed commands with odd values: no 5xx, no reset (writes allowed, so after the no-write check)`, async () => {
  const tally = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(acceptableShapeRequest, async (generated) => {
      const request = { ...generated, headers: authorize(generated.headers) };
      const c: HostileCase = { api: 'gateway', defect: 'well-formed, odd values', request };
      const outcome = await sendRaw(portOf(c), request, ANSWER_WITHIN_MS);
      if (outcome.kind !== 'status' || outcome.status >= 500) throw new Error(describeFailure(c, outcome));
      tally.set(outcome.status, (tally.get(outcome.status) ?? 0) + 1);
    }),
    { numRuns: Math.ceil(RUNS / 10), seed: SEED, endOnFailure: false },
  );
  console.log(`well-formed commands with odd values: ${[...tally].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`).join(', ')}`);
});
