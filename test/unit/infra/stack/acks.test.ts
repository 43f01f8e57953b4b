import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../../../infra/stack/settings';

/**
 * Every write of the application waits for the in-sync replicas (acks=all):
 * on a cluster with min.insync.replicas 2, a write acknowledged by the leader
 * alone could be lost with it. kafkajs's default is -1 too; the code says so
 * at every send, and this holds it to that (docs/cluster.md).
 */
const SOURCES = ['producers', 'consumers', 'infra'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const files = SOURCES.flatMap((dir) => sourceFiles(path.join(repoRoot, dir))).map((file) => ({ file: path.relative(repoRoot, file), text: fs.readFileSync(file, 'utf8') }));

describe('producers write with acks=all', () => {
  it('every send and sendBatch of the application says acks: -1', () => {
    const sends = files.flatMap(({ file, text }) =>
      [...text.matchAll(/\b(?:producer|transaction|txn)\.(send|sendBatch)\(\{([^)]*)/g)].map((m) => ({ file, call: m[0].slice(0, 80), acks: /acks:\s*(-?\d+)/.exec(m[2] ?? '')?.[1] })),
    );
    expect(sends.length).toBeGreaterThanOrEqual(5);
    expect(sends.filter((s) => s.acks !== '-1')).toEqual([]);
  });

  it('no producer is configured with fewer acks', () => {
    const lower = files.filter(({ text }) => /acks:\s*(0|1)\b/.test(text)).map(({ file }) => file);
    expect(lower).toEqual([]);
  });
});
