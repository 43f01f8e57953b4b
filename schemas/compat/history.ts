// Earlier versions of the schema files, from git history. Each commit that
// touched schemas/avro is loaded as a whole set (so cross-file references
// resolve against the files of that same commit).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildSchemaSet, type SchemaSource } from '../loader';
import type { SchemaVersion } from './offline';

export class GitHistoryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitHistoryError';
  }
}

function git(cwd: string, args: readonly string[], input?: string): Buffer {
  try {
    return execFileSync('git', args, { cwd, input, maxBuffer: 256 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    throw new GitHistoryError(`git ${args.join(' ')} failed`, { cause: err });
  }
}

/** Reads many blobs with one `git cat-file --batch`. */
function readBlobs(cwd: string, specs: readonly string[]): string[] {
  if (specs.length === 0) return [];
  const out = git(cwd, ['cat-file', '--batch'], `${specs.join('\n')}\n`);
  const texts: string[] = [];
  let pos = 0;
  for (const spec of specs) {
    const headerEnd = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, headerEnd).toString('utf8');
    const size = Number(header.split(' ')[2]);
    if (header.endsWith(' missing') || !Number.isInteger(size)) throw new GitHistoryError(`git cat-file: ${spec} is missing`);
    texts.push(out.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8'));
    pos = headerEnd + 1 + size + 1;
  }
  return texts;
}

export interface HistoryResult {
  readonly versions: readonly SchemaVersion[];
  /** Commits whose schemas could not be loaded (reported, not fatal). */
  readonly skipped: readonly string[];
}

/**
 * Every committed version of the schema set under `schemaRoot` (newest first).
 * `schemaRoot` is a directory inside a git work tree.
 */
export function schemaHistory(schemaRoot: string): HistoryResult {
  const top = git(schemaRoot, ['rev-parse', '--show-toplevel']).toString('utf8').trim();
  const rel = path.relative(top, schemaRoot).split(path.sep).join('/');
  const log = git(top, ['log', '--format=%H', '--', rel]).toString('utf8').trim();
  const commits = log === '' ? [] : log.split('\n');
  const versions: SchemaVersion[] = [];
  const skipped: string[] = [];
  for (const commit of commits) {
    const files = git(top, ['ls-tree', '-r', '--name-only', commit, '--', rel])
      .toString('utf8')
      .split('\n')
      .filter((f) => f.endsWith('.avsc'));
    const texts = readBlobs(top, files.map((f) => `${commit}:${f}`));
    const sources: SchemaSource[] = files.map((f, i) => ({ path: f.slice(rel.length + 1), text: texts[i] ?? '' }));
    try {
      versions.push({ source: `commit ${commit.slice(0, 12)}`, schemas: buildSchemaSet(sources) });
    } catch (err) {
      skipped.push(`commit ${commit.slice(0, 12)}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  return { versions, skipped };
}
