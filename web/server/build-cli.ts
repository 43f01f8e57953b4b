// npm run build:web -- [--if-stale]: builds the front end into web/dist with
// Vite. With --if-stale (what `npm start` runs) it builds only when a source
// file (web/src, index.html, the Vite config, package-lock.json) is newer than
// the last build, so a start with nothing changed costs a few stat calls.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../infra/stack/settings';

const WEB = path.join(repoRoot, 'web');
const OUTPUT = path.join(WEB, 'dist', 'index.html');
const INPUTS = [path.join(WEB, 'src'), path.join(WEB, 'index.html'), path.join(WEB, 'vite.config.mts'), path.join(repoRoot, 'package-lock.json')];

/** The newest modification time under `file` (a file or a folder), 0 when it does not exist. */
export function newestMtime(file: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return fs.readdirSync(file).reduce((newest, name) => Math.max(newest, newestMtime(path.join(file, name))), stat.mtimeMs);
}

export function isStale(): boolean {
  const built = newestMtime(OUTPUT);
  return built === 0 || INPUTS.some((input) => newestMtime(input) > built);
}

function main(): void {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !isStale()) return;
  const vite = path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', path.join(WEB, 'vite.config.mts')], { cwd: repoRoot, stdio: 'inherit' });
  if (result.error !== undefined) throw new Error('the web UI build could not be started', { cause: result.error });
  if (result.status !== 0) {
    process.stderr.write(`build:web: vite exited with ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`web UI built into ${path.relative(repoRoot, path.dirname(OUTPUT))}/\n`);
}

main();
