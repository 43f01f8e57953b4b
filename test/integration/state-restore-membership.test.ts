// A restore that takes longer than the group's session timeout must not cost
// the runtime its group membership: the runtime pauses the partition and
// restores outside eachBatch, so its consumer loop keeps heartbeating
// (docs/state-stores.md "Restore and group membership").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from 'kafkajs';
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER, type RestoreResult } from '../../infra/state/changelog-restore';
import { openAndRestore } from '../../infra/state/open-store';
import { logLevel } from 'kafkajs';
import { createTopicsAndWait, testKafka, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

const kafka = testKafka('state-membership-test');
const changelog = unique('it.state-membership-changelog');
const input = unique('it.state-membership-input');
const SESSION_TIMEOUT_MS = 6_000; // the broker's minimum (group.min.session.timeout.ms)
const BATCHES = 12;
const SLOW_BATCH_MS = 800; // a slow disk: 12 batches × 0.8 s ≈ 10 s, past the session timeout

/** For the changelog writer: kafkajs logs its quick CONCURRENT_TRANSACTIONS retries as errors; a failed send still throws. */
const quietKafka = testKafka('state-writer', logLevel.NOTHING);
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'state-membership-it-'));
  await createTopicsAndWait(kafka, [{ topic: changelog, numPartitions: 1 }, { topic: input, numPartitions: 1 }]);
  const producer = await fencedProducer(quietKafka, unique('it.state-membership-writer'));
  try {
    // One transaction per restore batch: each is its own record batch on the log.
    for (let b = 0; b < BATCHES; b += 1) {
      const txn = await producer.transaction();
      await txn.send({
        topic: changelog,
        messages: Array.from({ length: 20 }, (_, i) => ({ key: `k-${b}-${i}`, value: `v-${b}-${i}`, partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } })),
      });
      await txn.commit();
    }
  } finally {
    await producer.disconnect();
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

it('keeps the group membership through a restore longer than the session timeout', async () => {
  const consumer: Consumer = kafka.consumer({ groupId: unique('it.state-membership-group'), sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: 500 });
  let joins = 0;
  let heartbeatsDuringRestore = 0;
  let restoring = false;
  let restored: RestoreResult | undefined;
  let restoreError: unknown;
  consumer.on(consumer.events.HEARTBEAT, () => {
    if (restoring) heartbeatsDuringRestore += 1;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joins += 1;
    if (joins > 1) return;
    // On assignment: pause the input, restore without blocking the consumer loop, resume.
    consumer.pause([{ topic: input }]);
    restoring = true;
    const started = Date.now();
    openAndRestore(kafka, join(root, 'p0'), { topic: changelog, partition: 0, epoch: 'e1', foldVersion: 1 }, {
      decode: (bytes) => bytes.toString(),
      fetchBytes: 512,
      onProgress: () => new Promise<void>((resolve) => setTimeout(resolve, SLOW_BATCH_MS)),
    })
      .then((result) => {
        if (result.kind !== 'ready') throw new Error(result.message);
        result.store.close();
        restored = { ...result.restore, ms: Date.now() - started };
      })
      .catch((error: unknown) => (restoreError = error))
      .finally(() => {
        restoring = false;
        consumer.resume([{ topic: input }]);
      });
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: input, fromBeginning: true });
    await consumer.run({ eachBatch: async () => undefined });
    const result = await waitFor('the restore to finish', async () => (restoreError ? Promise.reject(restoreError) : restored), 60_000);
    expect(result.records).toBe(BATCHES * 20);
    expect(result.batches).toBeGreaterThanOrEqual(BATCHES);
    expect(result.ms).toBeGreaterThan(SESSION_TIMEOUT_MS);
    expect(heartbeatsDuringRestore).toBeGreaterThan(0);
    expect(joins).toBe(1);
  } finally {
    await consumer.disconnect();
  }
}, 90_000);
