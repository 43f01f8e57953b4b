/**
 * A short chaos run (docs/chaos.md), fixed seed, single broker: every role twice
 * (two ROLE=all processes on a broker and a Redis of the run's own), a client
 * load through both gateways that retries the same request, and five faults one
 * after another: a role instance killed -9, the broker killed -9 and restarted,
 * Redis restarted empty, one instance's network to the registry and Redis cut,
 * and a rolling restart (each instance stopped and started in turn, the next
 * once it is ready). The registry away for every instance is left to `npm run
 * chaos`: the network cut takes the registry from one instance already, and a
 * rolling restart costs two process starts. Then the independent verdict: fails on
 * anything accepted that is lost or written twice, anything refused that was
 * written, a version gap, a placed order without exactly one outcome or paid or
 * refunded twice, a read model that is not the fold of the log, a dead letter,
 * an instance that exited, or a fault not recovered from.
 *
 * `npm run chaos` runs the same thing longer, with every fault kind.
 */
import { formatReport } from '../../app/chaos/report';
import { runChaos } from '../../app/chaos/run';

jest.setTimeout(480_000);

it('a short chaos run on one broker loses, duplicates and diverges nothing', async () => {
  const report = await runChaos(
    {
      seed: 'ci-chaos-1',
      durationMs: 40_000,
      faults: 5,
      layout: 'combined',
      kinds: ['kill-role', 'broker-restart', 'redis-restart', 'network-cut', 'rolling-restart'],
      ordersPerMinute: 60,
      timings: { networkCutMs: 8_000, recoveryLimitMs: 150_000 },
      quietLimitMs: 120_000,
    },
    () => undefined,
  );
  console.log(formatReport(report));
  const v = report.verification;
  // Each list names what went wrong, so a failure says what.
  expect(v.lost).toEqual([]);
  expect(v.duplicates).toEqual([]);
  expect(v.refusedButWritten).toEqual([]);
  expect(v.versionGaps).toEqual([]);
  expect(v.fulfilment).toEqual([]);
  expect(v.divergentReadModels).toEqual({});
  expect(v.readModelsNotCaughtUp).toEqual({});
  expect(v.deadLetters).toEqual({});
  expect(v.instancesExited).toEqual([]);
  expect(report.faults.map((f) => f.kind).sort()).toEqual(['broker-restart', 'kill-role', 'network-cut', 'redis-restart', 'rolling-restart']);
  // The rolling restart restarted both instances, each ready again before the next was stopped.
  expect(Object.values(report.faults.find((f) => f.kind === 'rolling-restart')?.restartsMs ?? {}).filter((ms) => ms >= 0)).toHaveLength(2);
  expect(report.faults.filter((f) => f.readyAfterMs === undefined || f.serving2xxAfterMs === undefined)).toEqual([]);
  // The load really ran through the faults: commands accepted, orders placed and paid.
  expect(v.counts.commands2xx).toBeGreaterThan(50);
  expect(v.counts.ordersPlaced).toBeGreaterThan(5);
  expect(v.counts.paymentsAuthorized).toBeGreaterThan(0);
  expect(report.passed).toBe(true);
});
