/**
 * The file token store on a real file system: what it saves comes back, only its owner can read it, a reader never
 * sees half a value, and it neither reads nor writes through a symbolic link, nor leaves a temporary file behind.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenStore } from '../../src/flow/tokenStore.js';
import { createFileTokenStore } from '../../src/node/fileTokenStore.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'file-token-store-'));
});

afterEach(async () => {
  await chmod(root, 0o700).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

/** The `ClientError` `promise` rejects with. */
async function clientError(promise: Promise<unknown>): Promise<Error & { code: string }> {
  const error = (await promise.then(
    () => {
      throw new Error('expected a ClientError, but it succeeded');
    },
    (reason: unknown) => reason,
  )) as Error & { code: string };
  expect(error).toMatchObject({ name: 'DeviceFlowError', code: 'ClientError' });
  return error;
}

const isRoot = process.getuid?.() === 0;

describe('createFileTokenStore', () => {
  it('is a TokenStore: nothing at first, then what was saved last, then nothing after clear (twice is fine)', async () => {
    const store: TokenStore = createFileTokenStore(join(root, 'tokens.json'));
    expect(await store.load()).toBeNull();
    await store.save('{"first":1}');
    expect(await store.load()).toBe('{"first":1}');
    const unicode = '{"name":"Zoë 🦊","note":"\u2028"}';
    await store.save(unicode);
    expect(await store.load()).toBe(unicode);
    await store.clear();
    expect(await store.load()).toBeNull();
    await store.clear();
    expect(await readdir(root)).toEqual([]);
  });

  it('writes the file with mode 0600 and creates missing parents with mode 0700, leaving an existing one as it is', async () => {
    await chmod(root, 0o755);
    const path = join(root, 'a', 'b', 'tokens.json');
    await createFileTokenStore(path).save('secret');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'a'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'a', 'b'))).mode & 0o777).toBe(0o700);
    expect((await stat(root)).mode & 0o777).toBe(0o755);
    // A file that was readable by others is replaced by one that is not.
    await chmod(path, 0o644);
    await createFileTokenStore(path).save('secret 2');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('replaces the file whole: a reader in another process never sees part of a value', async () => {
    const path = join(root, 'tokens.json');
    const store = createFileTokenStore(path);
    const values = ['a'.repeat(3_000_000), 'b'.repeat(1_000_000)];
    await store.save(values[0]!);
    // The reader runs in its own process, reading as fast as it can while this one saves.
    const reader = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { readFileSync, writeFileSync } from 'node:fs';
         const seen = new Map();
         const until = Date.now() + 1500;
         while (Date.now() < until) {
           let text;
           try { text = readFileSync(process.argv[1], 'utf8'); } catch (error) { seen.set('error ' + error.code, 1); continue; }
           const key = text.length + ':' + text[0] + ':' + (new Set(text).size);
           seen.set(key, (seen.get(key) ?? 0) + 1);
         }
         process.stdout.write(JSON.stringify([...seen]));`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.on('data', (chunk) => (output += chunk));
    let running = true;
    const exited = new Promise((resolveExit) => reader.on('close', resolveExit)).then(() => (running = false));
    let saves = 0;
    for (; running; saves++) await store.save(values[saves % 2]!);
    await exited;
    // What the reader saw: each distinct (length, first character, number of distinct characters), and how often.
    const seen = new Map(JSON.parse(output) as [string, number][]);
    expect(saves).toBeGreaterThan(10);
    expect([...seen.keys()].filter((key) => key !== '3000000:a:1' && key !== '1000000:b:1'), JSON.stringify([...seen])).toEqual([]);
    expect([...seen.values()].reduce((sum, count) => sum + count, 0)).toBeGreaterThan(10);
    expect(await readdir(root)).toEqual(['tokens.json']);
  });

  it('refuses a symbolic link at the path on save, load and clear, and leaves what it points to untouched', async () => {
    const target = join(root, 'elsewhere.json');
    await writeFile(target, 'original', { mode: 0o644 });
    const path = join(root, 'tokens.json');
    await symlink(target, path);
    const store = createFileTokenStore(path);
    expect((await clientError(store.save('new value'))).message).toBe(
      `The token file ${path} is a symbolic link: the store neither reads nor writes through one; name the file itself`,
    );
    expect((await clientError(store.load())).message).toContain(`${path} is a symbolic link`);
    expect((await clientError(store.clear())).message).toContain(`${path} is a symbolic link`);
    expect(await readFile(target, 'utf8')).toBe('original');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect((await readdir(root)).sort()).toEqual(['elsewhere.json', 'tokens.json']);
  });

  it('refuses a dangling symbolic link too, creating nothing where it points', async () => {
    const path = join(root, 'tokens.json');
    await symlink(join(root, 'nowhere.json'), path);
    const store = createFileTokenStore(path);
    await clientError(store.save('value'));
    await clientError(store.load());
    expect(await readdir(root)).toEqual(['tokens.json']);
  });

  it('says so when the path is a directory', async () => {
    const path = join(root, 'tokens');
    await mkdir(path);
    const store = createFileTokenStore(path);
    const message = `The token file ${path} is a directory: name a file`;
    expect((await clientError(store.save('value'))).message).toBe(message);
    expect((await clientError(store.load())).message).toBe(message);
    expect((await clientError(store.clear())).message).toBe(message);
    expect(await readdir(path)).toEqual([]);
  });

  it('says which parent is no directory when a regular file stands in the way (root included)', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, '');
    const path = join(file, 'tokens.json');
    const store = createFileTokenStore(path);
    expect((await clientError(store.save('value'))).message).toMatch(
      new RegExp(`^Cannot save the token file ${path}: its directory ${file} does not exist and a part of it is a file, not a directory$`),
    );
    expect((await clientError(store.load())).message).toContain(`a part of ${file} is not a directory`);
    expect(await readdir(root)).toEqual(['plain-file']);
  });

  it.skipIf(isRoot)('says the parent is not writable for a 0500 directory (skipped as root, which ignores permission bits)', async () => {
    const parent = join(root, 'read-only');
    await mkdir(parent, { mode: 0o500 });
    const path = join(parent, 'tokens.json');
    expect((await clientError(createFileTokenStore(path).save('value'))).message).toBe(
      `Cannot save the token file ${path}: the directory ${parent} is not writable (EACCES)`,
    );
    await expect(createFileTokenStore(path).load()).resolves.toBeNull();
  });

  it.skipIf(isRoot)('says a file that exists but cannot be read is unreadable (skipped as root, which reads any file)', async () => {
    const path = join(root, 'tokens.json');
    await writeFile(path, 'secret', { mode: 0o000 });
    expect((await clientError(createFileTokenStore(path).load())).message).toBe(`The token file ${path} exists but cannot be read (EACCES)`);
  });

  it('leaves no temporary file behind when the write fails halfway (a file size limit, in a child process)', async () => {
    const path = join(root, 'tokens.json');
    await writeFile(path, 'old value', { mode: 0o600 });
    const module = pathToFileURL(resolve(import.meta.dirname, '../../dist/node/index.js')).href;
    // `ulimit -f 1`: no file may grow past 1 KiB, so the write of 100 KB fails with EFBIG after the file exists.
    const script = `
      process.on('SIGXFSZ', () => {});
      const { createFileTokenStore } = await import(${JSON.stringify(module)});
      try { await createFileTokenStore(process.argv[1]).save('x'.repeat(100_000)); console.log('saved'); }
      catch (error) { console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message })); }`;
    const child = spawn('bash', ['-c', 'ulimit -f 1 && exec "$0" --input-type=module -e "$1" "$2"', process.execPath, script, path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    await new Promise((resolveExit) => child.on('close', resolveExit));
    expect(JSON.parse(output)).toEqual({ name: 'DeviceFlowError', code: 'ClientError', message: `Cannot save the token file ${path} (EFBIG)` });
    expect(await readdir(root)).toEqual(['tokens.json']);
    expect(await readFile(path, 'utf8')).toBe('old value');
  });

  it('keeps a string only', async () => {
    const store = createFileTokenStore(join(root, 'tokens.json'));
    await expect(store.save({ not: 'a string' } as unknown as string)).rejects.toThrow(TypeError);
    expect(await readdir(root)).toEqual([]);
  });
});
