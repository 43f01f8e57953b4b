// What the stateful-runtime crash tests and their child process share: the
// topics of a run, order fulfilment with every customer and item known, the
// child process itself (stateful-crash-child.ts), to kill -9 (crash-harness.ts
// keeps and cleans up what a test made).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { fulfilmentTopics, type FulfilmentTopics } from './process-managers';

/** The topics of a crash run: order fulfilment's on topics of their own (test/support/process-managers.ts). */
export const crashTopics = (run: string): FulfilmentTopics => fulfilmentTopics(run);

export function fulfilment(paymentTimeoutMs: number): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  return orderFulfilmentProcess({
    facts: { factsFor: async (orders) => orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } })) },
    config: { paymentTimeoutMs, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 },
  });
}

/** A running stateful-crash-child.ts: its stdout lines so far, and kill -9. */
export interface CrashChild {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function crashChild(args: readonly string[], env: Readonly<Record<string, string>> = {}): CrashChild {
  return childScript('stateful-crash-child.ts', args, env);
}

/** A child process running one of test/support's scripts, its stdout kept as lines, to be killed -9. */
export function childScript(script: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): CrashChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    process: proc,
    lines,
    exited,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
