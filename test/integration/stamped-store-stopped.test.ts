// A stamped store whose restore is stopped part-way (aborted beside another
// store's fold refusal when stores restore side by side, or timed out) after
// it wrote states of another fold version is dropped, not kept: kept, the next
// start would read on from its offset and never meet those states again, so
// the fold refusal would not hold (infra/stateful/stamped-store.ts,
// docs/state-stores.md "Fold versions"). A store stopped part-way with no such
// states is kept, to go on from where it stopped.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { STORE_FILE } from '../../infra/state/state-store';
import { openStamped } from '../../infra/stateful/stamped-store';
import { createTopicsAndWait, testKafka, unique } from '../support/kafka';

const kafka = testKafka('stamped-store-stopped', logLevel.NOTHING);
const topic = unique('it.stamped-stopped');
const RECORDS = 2_000;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'stamped-stopped-'));
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1 }]);
  const producer = await fencedProducer(kafka, unique('stamped-stopped-writer'));
  try {
    // States folded by fold version 1, in several transactions: a small fetch takes them in many batches.
    for (let from = 0; from < RECORDS; from += 500) {
      const txn = await producer.transaction();
      await txn.send({
        topic,
        messages: Array.from({ length: 500 }, (_, i) => ({ key: `order-${from + i}`, value: `state-${from + i}-${'x'.repeat(200)}`, partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } })),
      });
      await txn.commit();
    }
  } finally {
    await producer.disconnect();
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Opens a store of `foldVersion` on the topic and stops its restore after its first batch; returns what it threw. */
async function stoppedAfterFirstBatch(dir: string, foldVersion: number): Promise<unknown> {
  const stop = new AbortController();
  let batches = 0;
  return openStamped<string>({
    kafka,
    dir,
    identity: { topic, partition: 0, epoch: 'e1', foldVersion },
    decode: (bytes) => bytes.toString(),
    decodedCapacity: 10,
    row: (change) => change,
    refusal: (why) => `refused: ${why.kind}`,
    signal: stop.signal,
    fetchBytes: 4_096,
    onProgress: () => {
      batches += 1;
      if (batches === 1) stop.abort(new Error('stopped beside another store'));
      return Promise.resolve();
    },
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('a stamped store stopped part-way', () => {
  it('is dropped when it had written states of another fold version, so the refusal holds at the next start', async () => {
    const dir = join(root, 'stale');
    const error = await stoppedAfterFirstBatch(dir, 2);
    expect(String(error)).toMatch(/stopped at offset \d+ of \d+/);
    expect(existsSync(join(dir, STORE_FILE))).toBe(false);
  });

  it('is kept when what it wrote is of this fold version, and goes on from where it stopped', async () => {
    const dir = join(root, 'current');
    const error = await stoppedAfterFirstBatch(dir, 1);
    expect(String(error)).toMatch(/stopped at offset \d+ of \d+/);
    expect(existsSync(join(dir, STORE_FILE))).toBe(true);
    const reopened = await openStamped<string>({
      kafka,
      dir,
      identity: { topic, partition: 0, epoch: 'e1', foldVersion: 1 },
      decode: (bytes) => bytes.toString(),
      decodedCapacity: 10,
      row: (change) => change,
      refusal: (why) => `refused: ${why.kind}`,
    });
    try {
      expect(reopened.rebuilt).toBeUndefined();
      expect(reopened.restore.from).toBeGreaterThan(0);
      expect(reopened.store.size()).toBe(RECORDS);
    } finally {
      reopened.store.close();
    }
  });
});
