// The chaos report: what was injected, how long each recovery took, what the
// clients saw after their retries, and the verifier's counts. Printed as text
// and written as JSON.
import type { LedgerEntry } from './client';
import type { FaultResult } from './faults';
import type { LoadCounts } from './load';
import type { Verdict } from './verify';

export interface ChaosReport {
  readonly seed: string;
  readonly layout: string;
  readonly kafka: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly load: LoadCounts;
  readonly faults: readonly FaultResult[];
  readonly clients: {
    readonly commands: number;
    /** Commands retried at least once, and the retries by what made them. */
    readonly retried: number;
    readonly retriesByCause: Record<string, number>;
    /** Final answers after retries that are not a decision: "503", "202 (pending)", "no answer". */
    readonly failuresByCause: Record<string, number>;
    /** Decided refusals by status and code (business rules, e.g. cancelling a delivered order). */
    readonly refusalsByCode: Record<string, number>;
    readonly slowestCommandMs: number;
  };
  readonly verification: Verdict & {
    /** Per order without an outcome: where it stopped, then what each step left (trail.ts). Absent in reports written before. */
    readonly fulfilmentTrails?: Record<string, readonly string[]>;
    readonly divergentReadModels: Record<string, readonly string[]>;
    readonly readModelsNotCaughtUp: Record<string, readonly string[]>;
    readonly deadLetters: Record<string, number>;
    readonly instancesExited: readonly string[];
  };
  readonly passed: boolean;
}

const tally = (items: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
};

/**
 * What the clients saw around each fault, from the ledger: how many commands
 * were answered 2xx while the failed part was out, and the longest stretch
 * with no 2xx answer at all from the injection until the recovery was measured.
 */
export function withClientView(faults: readonly FaultResult[], ledger: readonly LedgerEntry[]): FaultResult[] {
  const answered2xx = ledger
    .filter((e) => e.status >= 200 && e.status < 300)
    .map((e) => e.answeredAt)
    .sort((a, b) => a - b);
  return faults.map((f) => {
    const end = f.backAt + Math.max(f.serving2xxAfterMs ?? 0, f.readyAfterMs ?? 0);
    const inside = answered2xx.filter((t) => t >= f.injectedAt && t <= end);
    const marks = [f.injectedAt, ...inside, end];
    let gap = 0;
    for (let i = 1; i < marks.length; i += 1) gap = Math.max(gap, (marks[i] as number) - (marks[i - 1] as number));
    return { ...f, accepted2xxWhileOut: answered2xx.filter((t) => t >= f.injectedAt && t <= f.backAt).length, longestNo2xxMs: gap };
  });
}

export function clientFigures(ledger: readonly LedgerEntry[]): ChaosReport['clients'] {
  const undecided = ledger.filter((e) => !(e.status >= 200 && e.status < 500) || e.status === 202);
  return {
    commands: ledger.length,
    retried: ledger.filter((e) => e.attempts > 1).length,
    retriesByCause: tally(ledger.flatMap((e) => e.retriedOn)),
    failuresByCause: tally(undecided.map((e) => (e.status === 0 ? 'no answer' : e.status === 202 ? '202 (pending)' : String(e.status)))),
    refusalsByCode: tally(ledger.filter((e) => e.status >= 400 && e.status < 500).map((e) => `${e.status} ${e.errorCode ?? ''}`.trim())),
    slowestCommandMs: ledger.reduce((max, e) => Math.max(max, e.answeredAt - e.sentAt), 0),
  };
}

const ms = (value: number | undefined): string => (value === undefined ? 'NOT RECOVERED' : `${(value / 1000).toFixed(1)} s`);

export function formatReport(report: ChaosReport): string {
  const v = report.verification;
  const lines = [
    `chaos run, seed ${report.seed}, ${report.layout} layout, ${(report.durationMs / 1000).toFixed(0)} s: ${report.passed ? 'PASSED' : 'FAILED'}`,
    `kafka: ${report.kafka}`,
    `load: ${Object.entries(report.load)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `faults (${report.faults.length}), recovery measured from the moment the failed part was back:`,
    ...report.faults.map(
      (f) =>
        `  ${(f.kind + (f.target === undefined ? '' : ` ${f.target}`)).padEnd(36)} out ${((f.backAt - f.injectedAt) / 1000).toFixed(1).padStart(5)} s   all ready after ${ms(f.readyAfterMs).padStart(13)}   2xx after ${ms(f.serving2xxAfterMs).padStart(13)}   2xx while out ${String(f.accepted2xxWhileOut ?? '-').padStart(4)}, longest without 2xx ${ms(f.longestNo2xxMs)}`,
    ),
    `clients: ${report.clients.commands} commands, ${report.clients.retried} retried (${JSON.stringify(report.clients.retriesByCause)}), slowest ${(report.clients.slowestCommandMs / 1000).toFixed(1)} s with retries`,
    `  not decided after retries: ${JSON.stringify(report.clients.failuresByCause)}`,
    `  refused (4xx): ${JSON.stringify(report.clients.refusalsByCode)}`,
    `verification: ${JSON.stringify(v.counts)}`,
    `  lost ${v.lost.length}, duplicates ${v.duplicates.length}, refused but written ${v.refusedButWritten.length}, version gaps ${v.versionGaps.length}, fulfilment problems ${v.fulfilment.length}`,
    `  read models divergent ${Object.keys(v.divergentReadModels).length}, not caught up ${Object.keys(v.readModelsNotCaughtUp).length}, dead letters ${JSON.stringify(v.deadLetters)}, instances exited ${v.instancesExited.length}`,
    // Each kind capped on its own, so that many of one kind (e.g. 40 pending answers) do not hide another.
    ...[v.fulfilment, v.lost, v.duplicates, v.refusedButWritten, v.versionGaps].flatMap((kind) => [...kind.slice(0, 10).map((p) => `  ! ${p}`), ...(kind.length > 10 ? [`  ! (+${kind.length - 10} more of this kind in the JSON report)`] : [])]),
    ...Object.entries(v.fulfilmentTrails ?? {}).flatMap(([orderId, trail]) => [`  order ${orderId}:`, ...trail.map((line) => `    ${line}`)]),
    ...Object.entries(v.divergentReadModels).map(([model, keys]) => `  ! read model ${model} differs at ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ` (+${keys.length - 5})` : ''}`),
    ...report.faults.flatMap((f) => Object.entries(f.notReadyAtLimit ?? {}).map(([name, reasons]) => `  ! after ${f.kind}: ${name} still not ready: ${reasons.join('; ')}`)),
    ...report.faults.flatMap((f) =>
      f.notReadyAtLimit !== undefined || (f.readyAfterMs ?? 0) < 10_000 ? [] : Object.entries(f.lastNotReady ?? {}).map(([name, reasons]) => `  after ${f.kind} (ready after ${ms(f.readyAfterMs)}), ${name} last said: ${reasons.join('; ')}`),
    ),
    ...report.faults.flatMap((f) => {
      const r = f.replicas;
      if (r === undefined) return [];
      const down = r.leaderlessWhileDown === undefined ? 'not read' : `${r.leaderlessWhileDown.length}${r.leaderlessWhileDown.length > 0 ? ` (${r.leaderlessWhileDown.slice(0, 6).join(', ')})` : ''}`;
      const sole = r.ledWithoutOtherInSync.length > 0 ? ` (${r.ledWithoutOtherInSync.slice(0, 6).join(', ')})` : '';
      return [`  ${f.kind} ${f.target ?? ''}: led ${r.ledByNode} of ${r.partitions} partitions, ${r.underMinIsr} under min ISR (${r.underMinIsrWithoutNode} without the node), ${r.ledWithoutOtherInSync.length} with no other replica in sync${sole}; without a leader while down: ${down}`];
    }),
    ...Object.entries(v.readModelsNotCaughtUp).map(([model, behind]) => `  ! read model ${model} not caught up: ${behind.slice(0, 5).join(', ')}`),
  ];
  return lines.join('\n');
}
