/**
 * npm run chaos — a seeded, bounded chaos run (docs/chaos.md): every role twice
 * on a Kafka broker and a Redis of the run's own, a client load through the
 * gateways, faults one after another, then the verdict. Prints the report,
 * writes it as JSON, and exits 1 when anything accepted was lost, duplicated
 * or diverged (or something did not recover).
 *
 *   npm run chaos -- --seed 7 --duration 300 --faults 12 [--cluster] [--layout split|combined]
 *                    [--kinds kill-role,broker-restart,...] [--orders-per-minute 60]
 *                    [--report .local/chaos/report.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readStackSettings } from '../../infra/stack/settings';
import { formatReport } from './report';
import { runChaos } from './run';
import { FAULT_KINDS, type FaultKind } from './schedule';
import type { Layout } from './system';

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a number above 0, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: 'chaos' },
      duration: { type: 'string', default: '300' },
      faults: { type: 'string', default: '12' },
      layout: { type: 'string', default: 'split' },
      kinds: { type: 'string' },
      'orders-per-minute': { type: 'string', default: '60' },
      'registry-down': { type: 'string', default: '30' },
      report: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      'cluster-port-offset': { type: 'string', default: '800' },
    },
  });
  const layout = values.layout as Layout;
  if (layout !== 'split' && layout !== 'combined') throw new Error(`--layout must be split or combined, got ${JSON.stringify(values.layout)}`);
  const kinds = values.kinds?.split(',').map((k) => k.trim());
  const unknown = kinds?.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k)) ?? [];
  if (unknown.length > 0) throw new Error(`--kinds: ${unknown.join(', ')} not among ${FAULT_KINDS.join(', ')}`);
  const faults = Number(values.faults);
  if (!Number.isInteger(faults) || faults < 0) throw new Error(`--faults must be a whole number, got ${JSON.stringify(values.faults)}`);
  const report = await runChaos({
    seed: values.seed,
    durationMs: positive('duration', values.duration) * 1000,
    faults,
    layout,
    ...(values.cluster ? { cluster: { portOffset: positive('cluster-port-offset', values['cluster-port-offset']) } } : {}),
    ...(kinds === undefined ? {} : { kinds: kinds as FaultKind[] }),
    ordersPerMinute: positive('orders-per-minute', values['orders-per-minute']),
    timings: { registryDownMs: positive('registry-down', values['registry-down']) * 1000 },
  });
  console.log(formatReport(report));
  const file = values.report ?? path.join(readStackSettings().home, 'chaos', `report-${values.seed}-${Date.now()}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report written to ${file}`);
  return report.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
