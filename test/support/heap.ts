// The live heap of another node process, after a full garbage collection,
// through its inspector (the process runs with --inspect=127.0.0.1:<port>).
// heapUsed from /metrics counts garbage not yet collected, so it rises and
// falls with the load; the size after a collection is what a leak grows.
//
// Node 20 has a WebSocket client only behind --experimental-websocket, so the
// inspector is spoken to from a short-lived child process.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SCRIPT = `
const port = process.argv[1];
(async () => {
  const [target] = await (await fetch('http://127.0.0.1:' + port + '/json/list')).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const pending = new Map();
  let next = 1;
  const send = (method) => new Promise((resolve, reject) => { const id = next++; pending.set(id, { resolve, reject }); ws.send(JSON.stringify({ id, method })); });
  ws.onmessage = (m) => { const msg = JSON.parse(m.data); const p = pending.get(msg.id); if (p) { pending.delete(msg.id); msg.error ? p.reject(new Error(msg.error.message)) : p.resolve(msg.result); } };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  await send('HeapProfiler.collectGarbage');
  const usage = await send('Runtime.getHeapUsage');
  process.stdout.write(JSON.stringify(usage));
  ws.close();
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** Bytes in use on the heap of the process whose inspector listens on `port`, right after a full collection. */
export async function liveHeapBytes(port: number): Promise<number> {
  const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', SCRIPT, String(port)], { timeout: 30_000 });
  const usage = JSON.parse(stdout) as { usedSize: number };
  return usage.usedSize;
}
