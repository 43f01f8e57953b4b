// Where a stateful consumer's partition stores live (docs/stateful-runtime.md
// "Deploying"): the directory it was given (STATE_DIR/<group id>, kept across
// restarts), or one of its own in the OS temp directory, deleted at stop (every
// start then restores from the changelogs alone).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class StateDirectory {
  private constructor(
    readonly path: string,
    private readonly own: boolean,
  ) {}

  /** The given directory, or a fresh one of the group's own. */
  static claim(given: string | undefined, groupId: string): StateDirectory {
    if (given !== undefined) return new StateDirectory(given, false);
    return new StateDirectory(mkdtempSync(join(tmpdir(), `state-${groupId.replace(/[^\w.-]/g, '_')}-`)), true);
  }

  /** At stop, once every store in it is closed: deletes a directory of its own; leaves a given one. */
  release(): void {
    if (this.own) rmSync(this.path, { recursive: true, force: true });
  }
}
