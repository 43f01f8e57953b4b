/**
 * npm run bench:privacy — what encryption costs (docs/privacy.md), measured
 * with encryption on and off in the same run, printed as ratios; asserts nothing.
 *
 * Command side: one command processor, two gateways beside it, one sealing
 * personal data (PRIVACY_ENCRYPTION=on) and one not (off). Each signs up
 * BENCH_CUSTOMERS customers, then takes closed loops of renames (a personal
 * field sealed per command): a short round of each not counted, then
 * BENCH_ROUNDS (default 4) rounds alternating which goes first: accepted
 * commands/s and p99 per round, over all rounds and the median round's ratio.
 *
 * Read side: the customers' events as written by both gateways, read back from
 * Kafka and folded in process through the customers projection (what a replay
 * runs: projectors never decrypt), then each profile shown as the query API
 * shows it (sealed fields opened with the key cache): events/s and profiles/s
 * with sealed values vs with plaintext. Kafka and Redis I/O are the same for
 * both but for the ciphertext's size.
 *
 * Real replay (bench/privacy-replay.ts): BENCH_REPLAY_EVENTS (default 100,000)
 * customer and order events each, written twice, with personal fields in
 * plaintext and sealed; the customers and orders read models replayed from
 * offset 0 through a real Projector, Kafka and Redis, as bench:projections
 * replays, after one replay not counted, BENCH_REPLAY_ROUNDS (default 4)
 * rounds alternating which form goes first: events/s and the ratio
 * sealed/plaintext per round, over all rounds and the median round's.
 *
 * BENCH_PARTS (comma-separated: commands, fold, replay; default all) runs only
 * those parts (fold needs commands: it reads what the gateways wrote).
 */
import { performance } from 'node:perf_hooks';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { customersKeys } from '../consumers/projections/customers/customers.keys';
import { customersProjection } from '../consumers/projections/customers/customers.projection';
import { customerView, openCustomerView } from '../consumers/projections/customers/customers.query';
import { MemoryStore } from '../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../consumers/projections/shared/projection';
import { mintToken } from '../infra/auth/local-issuer';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { readToEnd } from '../infra/kafka/read-to-end';
import { rootLogger } from '../infra/logging';
import { KafkaKeyStore } from '../infra/privacy/key-store';
import { PersonalDataOpener } from '../infra/privacy/personal-data';
import { privacySecrets } from '../infra/privacy/settings';
import type { EventMetadata } from '../schemas/generated/types';
import type { CustomerEvent } from '../schemas/messages';
import { topicName } from '../schemas/topics';
import { claimsFor, stackSigningKey } from '../test/support/auth';
import { startRole, type RoleProcess } from '../app/chaos/role-process';
import { closedLoop, postJson, type Result } from './http-load';
import { replaySealedVsPlain } from './privacy-replay';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const REPLAY_EVENTS = Number(process.env.BENCH_REPLAY_EVENTS ?? 100_000);
const REPLAY_ROUNDS = Number(process.env.BENCH_REPLAY_ROUNDS ?? 4);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'commands,fold,replay').split(',').map((p) => p.trim()));
const fmt = (n: number, digits = 0): string => n.toFixed(digits);

async function signUp(gateway: RoleProcess, auth: Record<string, string>, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const r = await postJson(`${gateway.url}/customers`, { name: `Bench ${prefix} ${i}`, email: `${prefix}-${i}@bench.example` }, auth);
    if (r.status !== 201) throw new Error(`sign-up answered ${r.status}: ${JSON.stringify(r.body)}`);
    ids.push((r.body as { aggregateId: string }).aggregateId);
  }
  return ids;
}

async function commandSide(run: string): Promise<{ on: Result[]; off: Result[]; ids: { on: string[]; off: string[] } }> {
  const processor = await startRole('command-processor');
  const [on, off] = await Promise.all([startRole('gateway', { PRIVACY_ENCRYPTION: 'on' }), startRole('gateway', { PRIVACY_ENCRYPTION: 'off' })]);
  try {
    const auth = { authorization: `Bearer ${await mintToken(await stackSigningKey(), claimsFor('admin', 'bench-admin'))}` };
    const ids = { on: await signUp(on, auth, `${run}-on`), off: await signUp(off, auth, `${run}-off`) };
    const rename = (gateway: RoleProcess, customers: readonly string[]) => async (i: number): Promise<boolean> =>
      (await postJson(`${gateway.url}/customers/${customers[i % customers.length]}/name`, { name: `Renamed ${i}` }, auth)).status === 200;
    const results = { on: [] as Result[], off: [] as Result[] };
    let offset = 0;
    // A short round of each not counted first: the processor's and both gateways' JIT and connections warm alike.
    await closedLoop(CONCURRENCY, Math.min(3, SECONDS), rename(on, ids.on), (offset += 1_000_000));
    await closedLoop(CONCURRENCY, Math.min(3, SECONDS), rename(off, ids.off), (offset += 1_000_000));
    for (let round = 0; round < ROUNDS; round += 1) {
      // ABBA: which gateway goes first alternates, so neither always follows the other's backlog.
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const form of order) results[form].push(await closedLoop(CONCURRENCY, SECONDS, form === 'on' ? rename(on, ids.on) : rename(off, ids.off), (offset += 1_000_000)));
    }
    return { ...results, ids };
  } finally {
    await Promise.all([on.stop(), off.stop(), processor.stop()]);
  }
}

async function readSide(ids: { on: readonly string[]; off: readonly string[] }): Promise<{ sealed: { fold: number; show: number }; plain: { fold: number; show: number }; events: { sealed: number; plain: number } }> {
  const logger = rootLogger.child({ component: 'bench-privacy' });
  const kafka = createKafka('bench-privacy', logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const keys = new KafkaKeyStore(kafka, (await privacySecrets()).master, logger);
  if (!(await keys.start(120_000))) throw new Error('the key cache did not catch up');
  const sealedIds = new Set(ids.on);
  const plainIds = new Set(ids.off);
  const envelopes = { sealed: [] as Envelope<CustomerEvent>[], plain: [] as Envelope<CustomerEvent>[] };
  await readToEnd(kafka, [{ topic: topicName('customer', 'events') }], async ({ message }) => {
    if (message.value === null) return;
    const decoded = await codec.decode(message.value);
    const { metadata, ...data } = decoded.value as { metadata: EventMetadata };
    const envelope = { event: { type: decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1), data } as CustomerEvent, metadata };
    if (sealedIds.has(metadata.aggregateId)) envelopes.sealed.push(envelope);
    else if (plainIds.has(metadata.aggregateId)) envelopes.plain.push(envelope);
  });
  const opener = new PersonalDataOpener(keys, logger);
  const measure = (list: readonly Envelope<CustomerEvent>[], customers: readonly string[]): { fold: number; show: number } => {
    const store = new MemoryStore();
    const started = performance.now();
    foldInto(store, customersProjection, 'bench', list);
    const folded = performance.now();
    for (const id of customers) {
      const view = customerView(store.hgetall(customersKeys('bench').profile(id)), store.hgetall(customersKeys('bench').addresses(id)));
      if (view !== null) openCustomerView(view, opener);
    }
    return { fold: list.length / ((folded - started) / 1000), show: customers.length / ((performance.now() - folded) / 1000) };
  };
  // Alternating, three passes each, the best of each kept: the first passes warm the JIT (and the key cache) for both.
  const best = (runs: { fold: number; show: number }[]): { fold: number; show: number } => ({ fold: Math.max(...runs.map((r) => r.fold)), show: Math.max(...runs.map((r) => r.show)) });
  const sealedRuns: { fold: number; show: number }[] = [];
  const plainRuns: { fold: number; show: number }[] = [];
  for (let i = 0; i < 3; i += 1) {
    sealedRuns.push(measure(envelopes.sealed, ids.on));
    plainRuns.push(measure(envelopes.plain, ids.off));
  }
  const sealed = best(sealedRuns);
  const plain = best(plainRuns);
  await keys.stop();
  return { sealed, plain, events: { sealed: envelopes.sealed.length, plain: envelopes.plain.length } };
}

async function commandRows(run: string): Promise<{ on: readonly string[]; off: readonly string[] }> {
  const commands = await commandSide(run);
  console.log(`\nencryption's cost on the command side: renames (one personal field sealed per command), ${CONCURRENCY} in flight, ${SECONDS} s per row, rounds alternating`);
  console.log('round | on: accepted/s  p99 ms | off: accepted/s  p99 ms | accepted/s ratio  p99 ratio');
  commands.on.forEach((on, i) => {
    const off = commands.off[i];
    if (off === undefined) return;
    console.log(`${String(i + 1).padStart(5)} | ${fmt(on.perSecond).padStart(14)} ${fmt(on.p99).padStart(7)} | ${fmt(off.perSecond).padStart(15)} ${fmt(off.p99).padStart(7)} | ${fmt(on.perSecond / off.perSecond, 3).padStart(16)} ${fmt(on.p99 / off.p99, 2).padStart(10)}`);
  });
  const sum = (rs: readonly Result[]): number => rs.reduce((s, r) => s + r.perSecond, 0);
  const ratios = commands.on.map((on, i) => on.perSecond / (commands.off[i]?.perSecond ?? NaN)).sort((a, b) => a - b);
  const median = (ratios[Math.floor((ratios.length - 1) / 2)] ?? NaN) / 2 + (ratios[Math.ceil((ratios.length - 1) / 2)] ?? NaN) / 2;
  console.log(`all   | ${fmt(sum(commands.on) / commands.on.length).padStart(14)}         | ${fmt(sum(commands.off) / commands.off.length).padStart(15)}         | ${fmt(sum(commands.on) / sum(commands.off), 3).padStart(16)}  (median round ${fmt(median, 3)})`);

  return commands.ids;
}

async function foldRows(ids: { on: readonly string[]; off: readonly string[] }): Promise<void> {
  const read = await readSide(ids);
  console.log(`\nencryption's cost on the customers read model, in process (${read.events.sealed} sealed events, ${read.events.plain} plaintext events, ${CUSTOMERS} profiles each)`);
  console.log('what                                  |       sealed |    plaintext | ratio');
  console.log(`replay: fold the events (projectors)   | ${fmt(read.sealed.fold).padStart(12)} | ${fmt(read.plain.fold).padStart(12)} | ${fmt(read.sealed.fold / read.plain.fold, 3)}   events/s`);
  console.log(`query: show a profile (opens sealed)   | ${fmt(read.sealed.show).padStart(12)} | ${fmt(read.plain.show).padStart(12)} | ${fmt(read.sealed.show / read.plain.show, 3)}   profiles/s`);
}

async function replayRows(): Promise<void> {
  const logger = rootLogger.child({ component: 'bench-privacy' });
  logger.level = 'warn';
  const kafka = createKafka('bench-privacy-replay', logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const redis = new Redis(config().redis.url);
  try {
    const pairs = await replaySealedVsPlain({ kafka, codec, redis, logger }, { events: REPLAY_EVENTS, rounds: REPLAY_ROUNDS });
    console.log(`\nencryption's cost on a real replay from offset 0 (Kafka, Projector, Redis), ${REPLAY_EVENTS.toLocaleString('en')} events per read model, ${REPLAY_ROUNDS} rounds alternating`);
    console.log('read model | round | sealed events/s | plaintext events/s | ratio');
    for (const { model, events, plain, sealed, applied, seconds } of pairs) {
      console.log(`${model.padStart(10)} | events applied per replay: sealed ${applied.sealed.join(', ')}; plaintext ${applied.plain.join(', ')}`);
      sealed.forEach((on, i) => {
        const off = plain[i] ?? NaN;
        console.log(`${model.padStart(10)} | ${String(i + 1).padStart(5)} | ${fmt(on).padStart(15)} | ${fmt(off).padStart(18)} | ${fmt(on / off, 3)}`);
      });
      // All rounds: events over total replay time (a slow round weighs what it cost), and the median round's ratio.
      const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
      const ratios = sealed.map((on, i) => on / (plain[i] ?? NaN)).sort((a, b) => a - b);
      const median = ratios.length % 2 === 1 ? (ratios[(ratios.length - 1) / 2] ?? NaN) : ((ratios[ratios.length / 2 - 1] ?? NaN) + (ratios[ratios.length / 2] ?? NaN)) / 2;
      const onRate = (events * sealed.length) / total(seconds.sealed);
      const offRate = (events * plain.length) / total(seconds.plain);
      console.log(`${model.padStart(10)} |   all | ${fmt(onRate).padStart(15)} | ${fmt(offRate).padStart(18)} | ${fmt(onRate / offRate, 3)} (median round ${fmt(median, 3)})`);
    }
  } finally {
    await redis.quit();
  }
}

async function main(): Promise<void> {
  const run = Date.now().toString(36);
  if (PARTS.has('commands')) {
    const ids = await commandRows(run);
    if (PARTS.has('fold')) await foldRows(ids);
  }
  if (PARTS.has('replay')) await replayRows();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
