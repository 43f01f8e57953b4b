// /metrics protection (infra/auth/metrics-guard.ts + the operations port).
import { serveOps } from '../../../../infra/http/servers';
import { mintToken } from '../../../../infra/auth/local-issuer';
import { localSigningKey } from '../../../../infra/auth/local-keys';
import { metricsGuard } from '../../../../infra/auth/metrics-guard';
import { readAuthSettings } from '../../../../infra/auth/settings';
import { rootLogger } from '../../../../infra/logging';
import { Metrics } from '../../../../infra/metrics/registry';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claimsFor } from '../../../support/auth';

const home = mkdtempSync(path.join(os.tmpdir(), 'metrics-guard-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const STATIC = 'prometheus-scrape-secret-0123';

it('is absent (open) by default', async () => {
  expect(await metricsGuard(readAuthSettings({}, home))).toBeUndefined();
});

it('with METRICS_AUTH=required: 401 without a token or with a non-admin one; 200 with the static token or an admin token; health stays open', async () => {
  const settings = readAuthSettings({ METRICS_AUTH: 'required', METRICS_TOKEN: STATIC }, home);
  const guard = await metricsGuard(settings);
  const key = await localSigningKey(settings.localKeyDir);
  const ops = await serveOps(0, { metrics: new Metrics(), readiness: () => ({ ready: true, reasons: [] }), log: rootLogger.child({}, { level: 'silent' }), ...(guard === undefined ? {} : { guard }) });
  const scrape = async (authorization?: string) =>
    (await fetch(`http://127.0.0.1:${ops.port}/metrics`, { headers: authorization === undefined ? {} : { authorization } })).status;
  try {
    expect(await scrape()).toBe(401);
    expect(await scrape('Bearer wrong-secret-wrong-secret')).toBe(401);
    expect(await scrape(`Bearer ${await mintToken(key, claimsFor('manager'))}`)).toBe(401);
    expect(await scrape(`Bearer ${STATIC}`)).toBe(200);
    expect(await scrape(`Bearer ${await mintToken(key, claimsFor('admin'))}`)).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ops.port}/healthz`)).status).toBe(200);
  } finally {
    await ops.close();
  }
});
