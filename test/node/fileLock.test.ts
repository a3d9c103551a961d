/**
 * The lock file between processes: real child processes contend for it and never overlap; a lock left by a process
 * that died, or not touched for too long, is taken over; a live holder is waited for, and past `lockTimeout` the
 * waiter gives up with `ClientError`; the lock is released when the work throws. The children run the built package
 * (dist/, built by the test run's global setup), as users do.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/node/fileLock.js';

const MODULE = pathToFileURL(resolve(import.meta.dirname, '../../dist/node/index.js')).href;

/**
 * A child that takes the lock `rounds` times; each time it appends `<id> start` and `<id> end` to the log around a
 * pause of up to `hold` ms (random unless `fixed`), printing `held` once it holds the lock.
 */
const CONTENDER = `
  import { appendFileSync } from 'node:fs';
  const { withFileLock } = await import(process.env.LOCK_MODULE);
  const [lock, log, id, rounds, hold, staleLockAfter, fixed] = process.argv.slice(1);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let round = 0; round < Number(rounds); round++) {
    await withFileLock(lock, async () => {
      appendFileSync(log, id + ' start\\n');
      console.log('held');
      await sleep(fixed === 'fixed' ? Number(hold) : Math.random() * Number(hold));
      appendFileSync(log, id + ' end\\n');
    }, { staleLockAfter: Number(staleLockAfter), lockTimeout: 20_000 });
  }
`;

const children: ChildProcess[] = [];

interface Child {
  child: ChildProcess;
  /** Resolves once the child has printed `text`. */
  printed(text: string): Promise<void>;
  /** Resolves with the exit code and stderr. */
  exited: Promise<{ code: number | null; stderr: string }>;
}

function startContender(args: (string | number)[]): Child {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, ...args.map(String)], {
    env: { ...process.env, LOCK_MODULE: MODULE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolveExit) => child.on('close', (code) => resolveExit({ code, stderr })));
  return {
    child,
    exited,
    printed: (text) =>
      new Promise((resolvePrinted, reject) => {
        const check = () => stdout.includes(text) && resolvePrinted();
        waiters.push(check);
        check();
        void exited.then(({ stderr: errors }) => reject(new Error(`the child exited before printing ${text}: ${errors}`)));
      }),
  };
}

let root: string;
let lock: string;
let log: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'file-lock-'));
  lock = join(root, 'tokens.json.lock');
  log = join(root, 'log');
  await writeFile(log, '');
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** The marks of the log, checked to be whole pairs: each `start` followed by the `end` of the same holder. */
async function criticalSections(): Promise<string[]> {
  const lines = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
  const holders: string[] = [];
  for (let index = 0; index < lines.length; index += 2) {
    const [id, mark] = lines[index]!.split(' ');
    expect(mark, `line ${index + 1} of ${lines.join(' | ')}`).toBe('start');
    expect(lines[index + 1], `line ${index + 2} of ${lines.join(' | ')}`).toBe(`${id} end`);
    holders.push(id!);
  }
  return holders;
}

/** A lock file as another holder writes it. */
async function writeLockFile(content: { pid: number; hostname?: string; time?: string; token?: string }, ageMs = 0) {
  await writeFile(lock, JSON.stringify({ hostname: hostname(), time: new Date().toISOString(), token: 'f'.repeat(32), ...content }), { mode: 0o600 });
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    await utimes(lock, then, then);
  }
}

/** A pid that no process has any more: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolveExit) => child.on('exit', resolveExit));
  return child.pid!;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('withFileLock', () => {
  it('keeps the critical sections of three processes apart', async () => {
    const contenders = ['A', 'B', 'C'].map((id) => startContender([lock, log, id, 12, 15, 30_000]));
    for (const { exited } of contenders) expect(await exited).toEqual({ code: 0, stderr: '' });
    const holders = await criticalSections();
    expect(holders).toHaveLength(36);
    expect(new Set(holders)).toEqual(new Set(['A', 'B', 'C']));
    expect(await exists(lock)).toBe(false);
  }, 30_000);

  it('queues the callers of one process in order, without overlap, without polling their own lock', async () => {
    const marks: string[] = [];
    const started = Date.now();
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((id) =>
        withFileLock(lock, async () => {
          marks.push(`${id} start`);
          await new Promise((resolveWait) => setTimeout(resolveWait, 20));
          marks.push(`${id} end`);
          return id;
        }),
      ),
    );
    expect(results).toEqual([1, 2, 3, 4, 5]);
    expect(marks).toEqual([1, 2, 3, 4, 5].flatMap((id) => [`${id} start`, `${id} end`]));
    // Polling a held lock file backs off up to 250 ms a try; five turns of 20 ms take far less than that.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await exists(lock)).toBe(false);
  });

  it('writes the lock file with the pid and the time, mode 0600, creating missing parents with mode 0700', async () => {
    const nested = join(root, 'a', 'b', 'tokens.json.lock');
    const seen = await withFileLock(nested, async () => ({ content: JSON.parse(await readFile(nested, 'utf8')), mode: (await stat(nested)).mode & 0o777 }));
    expect(seen.content).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Date.now() - Date.parse(seen.content.time)).toBeLessThan(5_000);
    expect(seen.mode).toBe(0o600);
    expect((await stat(join(root, 'a'))).mode & 0o777).toBe(0o700);
    expect(await exists(nested)).toBe(false);
  });

  it('takes over a lock file not touched for longer than staleLockAfter, though its pid runs', async () => {
    // pid 1 always runs; the file's age alone makes it stale.
    await writeLockFile({ pid: 1 }, 60_000);
    const started = Date.now();
    const holder = await withFileLock(lock, async () => JSON.parse(await readFile(lock, 'utf8')).pid, { lockTimeout: 5_000 });
    expect(holder).toBe(process.pid);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('takes over a fresh lock file at once when its process of this host is gone', async () => {
    await writeLockFile({ pid: await deadPid() });
    const started = Date.now();
    await withFileLock(lock, async () => undefined, { lockTimeout: 5_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('takes over a lock file that names this process but is older than it: a pid reused after a restart', async () => {
    await writeLockFile({ pid: process.pid, time: new Date(Date.now() - 3_600_000).toISOString() });
    const started = Date.now();
    await withFileLock(lock, async () => undefined, { lockTimeout: 5_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('does not take over the lock of a worker thread of this process, which has the same pid', async () => {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.module).then(({ withFileLock }) =>
         withFileLock(workerData.lock, () => new Promise((release) => { parentPort.once('message', release); parentPort.postMessage('held'); })));`,
      { eval: true, workerData: { module: MODULE, lock } },
    );
    try {
      await new Promise((resolveHeld) => worker.once('message', resolveHeld));
      expect(JSON.parse(await readFile(lock, 'utf8')).pid).toBe(process.pid);
      const error = await withFileLock(lock, async () => 'ran', { lockTimeout: 300 }).catch((reason: unknown) => reason);
      expect(error).toMatchObject({ code: 'ClientError', message: `Timed out after 0.3 s waiting for the lock ${lock}, held by process ${process.pid} on ${hostname()}` });
      worker.postMessage('release');
      expect(await withFileLock(lock, async () => 'ran', { lockTimeout: 5_000 })).toBe('ran');
    } finally {
      await worker.terminate();
    }
  });

  it("does not judge a pid of another host: its lock file is waited for until it is stale by age", async () => {
    await writeLockFile({ pid: await deadPid(), hostname: 'another-host.example' });
    const error = await withFileLock(lock, async () => 'ran', { lockTimeout: 300 }).catch((reason: unknown) => reason);
    expect(error).toMatchObject({ name: 'DeviceFlowError', code: 'ClientError' });
    await writeLockFile({ pid: await deadPid(), hostname: 'another-host.example' }, 1_000);
    expect(await withFileLock(lock, async () => 'ran', { lockTimeout: 5_000, staleLockAfter: 500 })).toBe('ran');
  });

  it('waits for a live holder until lockTimeout, then fails with ClientError; once the holder is killed, takes over', async () => {
    const holder = startContender([lock, log, 'holder', 1, 60_000, 30_000, 'fixed']);
    await holder.printed('held');
    let ran = false;
    const started = Date.now();
    const error = await withFileLock(lock, async () => (ran = true), { lockTimeout: 500 }).catch((reason: unknown) => reason);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(error).toMatchObject({
      name: 'DeviceFlowError',
      code: 'ClientError',
      message: `Timed out after 0.5 s waiting for the lock ${lock}, held by process ${holder.child.pid} on ${hostname()}`,
    });
    expect(ran).toBe(false);
    expect(JSON.parse(await readFile(lock, 'utf8')).pid).toBe(holder.child.pid);

    // Killed while holding it: the lock file stays, naming a process that is gone.
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(await exists(lock)).toBe(true);
    const taken = Date.now();
    expect(await withFileLock(lock, async () => 'ran', { lockTimeout: 5_000 })).toBe('ran');
    expect(Date.now() - taken).toBeLessThan(1_000);
  });

  it('is not taken for stale while its holder works longer than staleLockAfter: the holder keeps touching it', async () => {
    const holder = startContender([lock, log, 'holder', 1, 1_500, 300, 'fixed']);
    await holder.printed('held');
    const waited = Date.now();
    await withFileLock(
      lock,
      async () => {
        await writeFile(log, 'waiter start\n', { flag: 'a' });
        await writeFile(log, 'waiter end\n', { flag: 'a' });
      },
      { staleLockAfter: 300, lockTimeout: 10_000 },
    );
    expect(Date.now() - waited).toBeGreaterThan(1_000);
    expect(await criticalSections()).toEqual(['holder', 'waiter']);
    expect((await holder.exited).code).toBe(0);
  });

  it('is released when the work throws, and the error passes through unchanged', async () => {
    const failure = new Error('the refresh failed');
    await expect(withFileLock(lock, async () => Promise.reject(failure))).rejects.toBe(failure);
    expect(await exists(lock)).toBe(false);
    // Another process gets it at once.
    const next = startContender([lock, log, 'next', 1, 0, 30_000]);
    expect(await next.exited).toEqual({ code: 0, stderr: '' });
    expect(await criticalSections()).toEqual(['next']);
  });

  it('times out a caller queued behind another of its own process, and the callers after it still get their turn', async () => {
    const order: string[] = [];
    const first = withFileLock(lock, async () => {
      await new Promise((resolveWait) => setTimeout(resolveWait, 600));
      order.push('first');
    });
    const second = withFileLock(lock, async () => void order.push('second'), { lockTimeout: 200 }).catch((error: Error) => error.message);
    const third = withFileLock(lock, async () => void order.push('third'));
    expect(await second).toBe(`Timed out after 0.2 s waiting for the lock ${lock}, held by another caller in this process`);
    await Promise.all([first, third]);
    expect(order).toEqual(['first', 'third']);
  });

  it('says so when the lock path is a directory, or cannot be created', async () => {
    await mkdir(lock);
    await expect(withFileLock(lock, async () => 'ran')).rejects.toMatchObject({
      code: 'ClientError',
      message: `The lock file ${lock} is a directory: remove it or choose another path`,
    });
    const underFile = join(log, 'tokens.json.lock');
    await expect(withFileLock(underFile, async () => 'ran')).rejects.toMatchObject({
      code: 'ClientError',
      message: expect.stringMatching(new RegExp(`^Cannot create the lock file ${underFile}: `)),
    });
  });

  it('refuses nonsense timeouts', async () => {
    await expect(withFileLock(lock, async () => 'ran', { lockTimeout: 0 })).rejects.toMatchObject({ code: 'ClientError', message: 'Invalid setting: lockTimeout must be a positive number' });
    await expect(withFileLock(lock, async () => 'ran', { staleLockAfter: Number.NaN })).rejects.toMatchObject({ code: 'ClientError' });
  });
});
