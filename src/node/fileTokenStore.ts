/**
 * A token store in a file only its owner can read, replaced whole on every save, with a lock file for refreshes.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DeviceFlowError } from '../core/errors.js';
import { type FileLockOptions, withFileLock } from './fileLock.js';

/**
 * A token store whose lock is always there: the shape of the main entry's `TokenStore` (load, save, clear, lock),
 * which {@link createFileTokenStore} and {@link createKeyringTokenStore} return. Pass it as the flow's `tokenStore`.
 *
 * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6) on keeping tokens confidential
 */
export interface LockingTokenStore {
  /** The string last saved, or `null` when there is none. */
  load(): Promise<string | null>;
  /** Replaces what is kept with `value`, whole: a reader never sees half of it. */
  save(value: string): Promise<void>;
  /** Forgets what is kept; nothing to forget is no error. */
  clear(): Promise<void>;
  /** Runs `work` while no other holder of the same lock, in this process or another, runs its own. */
  lock<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Options of {@link createFileTokenStore}: those of its lock file, `${path}.lock`.
 *
 * @see [open(2), O_EXCL](https://man7.org/linux/man-pages/man2/open.2.html)
 */
export interface FileTokenStoreOptions extends FileLockOptions {}

/** Where open() refuses to follow a symbolic link as the last component (0 where the platform has no such flag). */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * A token store in the file `path`.
 *
 * - `save` writes a new file beside it (created with `O_EXCL`, mode 0600, synced to disk) and renames it over `path`,
 *   so that a reader sees the old value or the new one, never half of one, and the file is never readable by others;
 *   missing parent directories are created with mode 0700 (an existing one is left as it is). No temporary file is
 *   left behind when it fails.
 * - `load` gives `null` when the file does not exist.
 * - `clear` removes it; a missing file is no error.
 * - `lock` holds the lock file `${path}.lock` ({@link withFileLock}).
 *
 * A symbolic link at `path` is refused by all three, whatever it points to: the store writes and reads its own file
 * only, not one another user chose for it.
 *
 * @param path the token file, e.g. `~/.config/my-app/tokens.json` (expanded by you).
 * @throws {DeviceFlowError} (from its methods) `ClientError` naming the path when it is a symbolic link, a directory or
 *   not a regular file, when a file exists but cannot be read, or when its directory cannot be created or written
 *   (saying which).
 * @see [rename(2)](https://man7.org/linux/man-pages/man2/rename.2.html), atomic replacement
 * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6)
 * @example
 * ```ts
 * import { createFileTokenStore } from 'oauth2-device-flow/node';
 * const tokenStore = createFileTokenStore(join(homedir(), '.config/my-app/tokens.json'));
 * const flow = await OAuth2DeviceAuthorizationFlow.load({ ...options, tokenStore });
 * ```
 */
export function createFileTokenStore(path: string, options: FileTokenStoreOptions = {}): LockingTokenStore {
  if (typeof path !== 'string' || path === '') throw new DeviceFlowError('ClientError', 'Invalid setting: path must be a non-empty string');
  const file = resolve(path);
  const directory = dirname(file);

  return {
    async load() {
      if ((await targetKind(path, file)) === 'missing') return null;
      let handle;
      try {
        // O_NOFOLLOW: a symbolic link put there since the check is refused all the same.
        handle = await open(file, constants.O_RDONLY | NO_FOLLOW);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return null;
        if (code === 'ELOOP') throw symbolicLink(path);
        throw new DeviceFlowError('ClientError', `The token file ${path} exists but cannot be read (${code ?? 'error'})`, {}, { cause: error });
      }
      try {
        if (!(await handle.stat()).isFile()) throw notAFile(path);
        return await handle.readFile('utf8');
      } catch (error) {
        if (error instanceof DeviceFlowError) throw error;
        throw new DeviceFlowError('ClientError', `The token file ${path} exists but cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {}, { cause: error });
      } finally {
        await handle.close();
      }
    },

    async save(value) {
      if (typeof value !== 'string') throw new TypeError('A token store keeps a string');
      await makeDirectory(path, directory);
      await targetKind(path, file);
      const temporary = join(directory, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      let created = false;
      try {
        const handle = await open(temporary, 'wx', 0o600);
        created = true;
        try {
          await handle.writeFile(value, 'utf8');
          // On disk before the rename: after a crash the file holds the old value or the new one, not nothing.
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, file);
      } catch (error) {
        if (created) await rm(temporary, { force: true });
        throw saveError(path, directory, created, error);
      }
    },

    async clear() {
      if ((await targetKind(path, file)) === 'missing') return;
      await unlink(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return;
        throw new DeviceFlowError('ClientError', `Cannot remove the token file ${path}: the directory ${directory} is not writable (${error.code ?? 'error'})`, {}, { cause: error });
      });
    },

    lock: (work) => withFileLock(`${file}.lock`, work, options),
  };
}

/** `'file'` or `'missing'`; anything else at `path` (a symbolic link, a directory) is refused. */
async function targetKind(path: string, file: string): Promise<'file' | 'missing'> {
  let stats;
  try {
    stats = await lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') throw new DeviceFlowError('ClientError', `The token file ${path} cannot exist: a part of ${dirname(file)} is not a directory`, {}, { cause: error });
    throw new DeviceFlowError('ClientError', `The token file ${path} cannot be examined (${code ?? 'error'})`, {}, { cause: error });
  }
  if (stats.isSymbolicLink()) throw symbolicLink(path);
  if (stats.isDirectory()) throw new DeviceFlowError('ClientError', `The token file ${path} is a directory: name a file`);
  if (!stats.isFile()) throw notAFile(path);
  return 'file';
}

/** Creates the missing parents of the token file for its owner only; an existing one keeps its mode. */
async function makeDirectory(path: string, directory: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of it is a file, not a directory' : `it cannot be created (${code ?? 'error'})`;
    throw new DeviceFlowError('ClientError', `Cannot save the token file ${path}: its directory ${directory} does not exist and ${why}`, {}, { cause: error });
  }
}

function saveError(path: string, directory: string, created: boolean, error: unknown): DeviceFlowError {
  if (error instanceof DeviceFlowError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  if (!created && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
    return new DeviceFlowError('ClientError', `Cannot save the token file ${path}: the directory ${directory} is not writable (${code})`, {}, { cause: error });
  }
  if (code === 'EISDIR' || code === 'ENOTEMPTY') {
    return new DeviceFlowError('ClientError', `The token file ${path} is a directory: name a file`, {}, { cause: error });
  }
  return new DeviceFlowError('ClientError', `Cannot save the token file ${path} (${code})`, {}, { cause: error });
}

function symbolicLink(path: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The token file ${path} is a symbolic link: the store neither reads nor writes through one; name the file itself`);
}

function notAFile(path: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The token file ${path} is not a regular file`);
}
