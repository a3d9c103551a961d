/**
 * An advisory lock between processes of one machine, as a lock file created with `O_EXCL`: what the file and keychain
 * token stores (and the CLI) hold while they refresh, so that two processes do not spend one refresh token twice.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, lstat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DeviceFlowError } from '../core/errors.js';
import { requirePositiveNumber } from '../core/optionChecks.js';

/**
 * How long {@link withFileLock} waits for a lock, and when it takes a lock over.
 *
 * @see [open(2), O_EXCL](https://man7.org/linux/man-pages/man2/open.2.html)
 */
export interface FileLockOptions {
  /**
   * How long to wait for the lock, in milliseconds, before failing with `ClientError`: 60 s by default, longer than a
   * refresh request may take (30 s) so that a process waiting behind a refresh gets its turn.
   */
  lockTimeout?: number;
  /**
   * After how many milliseconds without a sign of life a lock file is stale and taken over: 30 s by default. Its
   * holder touches the file (its modification time) while its work runs, so a long refresh is not taken for stale; a
   * lock file whose process is gone (same host, no such pid) is taken over at once.
   */
  staleLockAfter?: number;
}

/** What a lock file holds: who holds it, since when, and the token that tells one holding from another. */
interface LockContent {
  pid: number;
  hostname: string;
  time: string;
  token: string;
}

const DEFAULT_LOCK_TIMEOUT = 60_000;
const DEFAULT_STALE_LOCK_AFTER = 30_000;
/** The first and the longest wait between two tries for a held lock. */
const FIRST_POLL = 10;
const LONGEST_POLL = 250;

/** Per lock file: the end of the queue of this process's callers, so that they take turns instead of polling. */
const queues = new Map<string, Promise<void>>();
/** When this process started (the same in its worker threads): a lock file naming its pid from before is a previous life's. */
const PROCESS_START = Date.now() - process.uptime() * 1000;
/** How far a clock may be off between this process's start and the time a lock file says. */
const CLOCK_SLACK = 1_000;

/**
 * Runs `work` while holding the lock file `lockPath`, and removes the file afterwards, also when `work` throws. The
 * file is created with `O_EXCL` (`'wx'`), mode 0600, and holds the holder's pid, host name and start time; missing
 * parent directories are created with mode 0700. While another process holds it, this one polls with a short
 * back-off, up to `lockTimeout`. A lock file older than `staleLockAfter`, or left by a process of this host that no
 * longer runs, is taken over. Callers of this process are queued: only the first of them polls the file.
 *
 * The lock is advisory: it keeps out the processes that take it, not the others, and a lock file on a network file
 * system shared between hosts is taken over only when it is stale by age.
 *
 * @param lockPath the lock file, e.g. `${tokenFile}.lock`.
 * @param work what to run under the lock; its result is returned, its exception rethrown.
 * @throws {DeviceFlowError} `ClientError` when the lock was not obtained within `lockTimeout`, or the lock file cannot
 *   be created (naming the path and why).
 * @see [open(2), O_EXCL](https://man7.org/linux/man-pages/man2/open.2.html)
 * @see [RFC 6819 §5.2.2.3, refresh token rotation](https://www.rfc-editor.org/rfc/rfc6819#section-5.2.2.3)
 * @example
 * ```ts
 * import { withFileLock } from 'oauth2-device-flow/node';
 * await withFileLock('/home/me/.config/app/tokens.json.lock', () => flow.refreshTokens());
 * ```
 */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const lockTimeout = requirePositiveNumber(options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT, 'lockTimeout');
  const staleLockAfter = requirePositiveNumber(options.staleLockAfter ?? DEFAULT_STALE_LOCK_AFTER, 'staleLockAfter');
  const path = resolve(lockPath);
  const deadline = Date.now() + lockTimeout;

  const previous = queues.get(path) ?? Promise.resolve();
  let endTurn!: () => void;
  const turn = new Promise<void>((resolveTurn) => (endTurn = resolveTurn));
  // The next caller starts when both the one before this and this one are done (queue entries never reject).
  const tail = previous.then(() => turn);
  queues.set(path, tail);
  void tail.then(() => {
    if (queues.get(path) === tail) queues.delete(path);
  });
  try {
    await beforeDeadline(previous, deadline, () => timedOut(lockPath, lockTimeout, 'another caller in this process'));
    const held = await acquire(lockPath, path, deadline, lockTimeout, staleLockAfter);
    try {
      return await work();
    } finally {
      await held.release();
    }
  } finally {
    endTurn();
  }
}

/** Creates the lock file, waiting and taking over stale ones; resolves with its release. */
async function acquire(lockPath: string, path: string, deadline: number, lockTimeout: number, staleLockAfter: number) {
  const token = randomBytes(16).toString('hex');
  let wait = FIRST_POLL;
  for (;;) {
    const content: LockContent = { pid: process.pid, hostname: hostname(), time: new Date().toISOString(), token };
    if (await create(lockPath, path, content)) break;
    const holder = await inspect(lockPath, path);
    // Gone since: try again at once.
    if (holder === null) continue;
    if (isStale(holder, staleLockAfter) && (await takeOver(path, holder, staleLockAfter))) continue;
    const now = Date.now();
    if (now >= deadline) throw timedOut(lockPath, lockTimeout, holder.content ? `process ${holder.content.pid} on ${holder.content.hostname}` : 'another process');
    // Jitter, so that processes that wait together do not all try at the same moment.
    await sleep(Math.min(wait * (0.5 + Math.random()), deadline - now));
    wait = Math.min(wait * 2, LONGEST_POLL);
  }
  // The holder touches the file while it works, so that a long refresh is not taken for a stale lock.
  const heartbeat = setInterval(() => void touch(path, token), Math.max(staleLockAfter / 3, 10));
  heartbeat.unref();
  return {
    async release() {
      clearInterval(heartbeat);
      // Only our own file: if it was taken over (this process stalled past staleLockAfter), it is another's now.
      if ((await readContent(path))?.token === token) await unlink(path).catch(() => undefined);
    },
  };
}

/** Creates the lock file holding `content`; `false` when it exists. */
async function create(lockPath: string, path: string, content: LockContent, madeDirectory = false): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT' && !madeDirectory) {
      // A missing parent directory: created for the owner only, as the token file's.
      await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((mkdirError: unknown) => {
        throw lockFileError(lockPath, mkdirError);
      });
      return create(lockPath, path, content, true);
    }
    throw lockFileError(lockPath, error);
  }
  try {
    await handle.writeFile(`${JSON.stringify(content)}\n`);
  } catch (error) {
    // A lock file nobody holds would stall the others until it is stale.
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw lockFileError(lockPath, error);
  }
  await handle.close();
  return true;
}

interface Holder {
  /** What the file says, or `null` while its creator has not written it yet (or it is not ours to read). */
  content: LockContent | null;
  mtimeMs: number;
}

/** The lock file's holder, or `null` when the file has just gone. */
async function inspect(lockPath: string, path: string): Promise<Holder | null> {
  const stats = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw lockFileError(lockPath, error);
  });
  if (stats === null) return null;
  if (!stats.isFile()) {
    throw new DeviceFlowError('ClientError', `The lock file ${lockPath} is ${stats.isDirectory() ? 'a directory' : stats.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: remove it or choose another path`);
  }
  return { content: await readContent(path), mtimeMs: stats.mtimeMs };
}

async function readContent(path: string): Promise<LockContent | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<LockContent>;
    const valid = typeof value.pid === 'number' && typeof value.hostname === 'string' && typeof value.token === 'string' && typeof value.time === 'string';
    return valid ? (value as LockContent) : null;
  } catch {
    return null;
  }
}

function isStale(holder: Holder, staleLockAfter: number): boolean {
  if (Date.now() - holder.mtimeMs > staleLockAfter) return true;
  const content = holder.content;
  if (content === null || content.hostname !== hostname()) return false;
  // A pid reused after a restart (pid 1 in a container): the file is older than this process. A lock taken since is
  // this process's own, perhaps in another worker thread, and alive.
  if (content.pid === process.pid) return Date.parse(content.time) < PROCESS_START - CLOCK_SLACK;
  return !isAlive(content.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock file, under a second lock so that two waiters that both found it stale do not remove each
 * other's fresh one: the file is removed only while it still holds the token found stale. `false` when another
 * waiter is taking it over.
 */
async function takeOver(path: string, stale: Holder, staleLockAfter: number): Promise<boolean> {
  const guard = `${path}.takeover`;
  let handle;
  try {
    handle = await open(guard, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    // A taker that died between creating the guard and removing it: its guard is stale in turn.
    const stats = await lstat(guard).catch(() => null);
    if (stats !== null && Date.now() - stats.mtimeMs > staleLockAfter) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    await handle.close();
    const current = await lstat(path).catch(() => null);
    if (current === null || !current.isFile()) return true;
    const content = await readContent(path);
    const same = stale.content === null ? content === null && current.mtimeMs === stale.mtimeMs : content?.token === stale.content.token;
    if (same && isStale({ content, mtimeMs: current.mtimeMs }, staleLockAfter)) await unlink(path).catch(() => undefined);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function touch(path: string, token: string): Promise<void> {
  if ((await readContent(path))?.token !== token) return;
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/** Waits for `promise`, or throws `error()` at `deadline`. */
async function beforeDeadline(promise: Promise<void>, deadline: number, error: () => Error): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), Math.max(deadline - Date.now(), 0))))]);
  } finally {
    clearTimeout(timer);
  }
}

function timedOut(lockPath: string, lockTimeout: number, holder: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `Timed out after ${lockTimeout / 1000} s waiting for the lock ${lockPath}, held by ${holder}`);
}

function lockFileError(lockPath: string, error: unknown): DeviceFlowError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const directory = dirname(resolve(lockPath));
  const why =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? `the directory ${directory} is not writable (${code})`
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? `${directory} is not a directory (${code})`
        : code;
  return new DeviceFlowError('ClientError', `Cannot create the lock file ${lockPath}: ${why}`, {}, { cause: error });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
