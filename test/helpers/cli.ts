import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

// ajv-formats is CommonJS: its function is the default export's own default under NodeNext.
const addFormats = formats.default;

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

/** A running `device-flow` child process. */
export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>;
  /** Resolves with stderr so far once it matches `pattern`. */
  stderrMatching(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with stdout so far once it matches `pattern`. */
  stdoutMatching(pattern: RegExp): Promise<RegExpMatchArray>;
}

let isolatedRoot: string | undefined;

/**
 * A new empty directory for one run's configuration, removed when the test process exits: what `XDG_CONFIG_HOME` is
 * for every run that does not give its own, so that no test reads or writes the profiles of the developer running it.
 */
export function isolatedConfigHome(): string {
  if (isolatedRoot === undefined) {
    const root = mkdtempSync(join(tmpdir(), 'device-flow-cli-'));
    isolatedRoot = root;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return mkdtempSync(join(isolatedRoot, 'config-'));
}

/**
 * Starts the built CLI with `args`; it is killed after `timeout` ms. Every run saves its profiles in files
 * (`DEVICE_FLOW_STORE=file`, never the keychain) under an `XDG_CONFIG_HOME` of its own, unless `env` says otherwise:
 * runs that share profiles pass the same `XDG_CONFIG_HOME`.
 */
export function startCli(
  args: string[],
  { env = {}, timeout = 25_000, command = [process.execPath, CLI], cwd }: { env?: Record<string, string>; timeout?: number; command?: string[]; cwd?: string } = {},
): CliRun {
  const started = Date.now();
  const isolated = { DEVICE_FLOW_STORE: 'file', XDG_CONFIG_HOME: env.XDG_CONFIG_HOME ?? isolatedConfigHome() };
  const child = spawn(command[0]!, [...command.slice(1), ...args], { env: { ...process.env, ...isolated, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const output = { stdout: '', stderr: '' };
  const waiters: { stream: keyof typeof output; pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (chunk) => {
      output[stream] += chunk;
      for (const waiter of waiters.filter((waiter) => waiter.stream === stream)) {
        const match = output[stream].match(waiter.pattern);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    });
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise<Awaited<CliRun['done']>>((resolveDone) => {
    // 'close', not 'exit': only then has all the output been read (on a loaded machine it can trail the exit).
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveDone({ code, signal, ...output, ms: Date.now() - started });
    });
  });
  const matching = (stream: keyof typeof output) => (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolveMatch, reject) => {
      const match = output[stream].match(pattern);
      if (match) return resolveMatch(match);
      waiters.push({ stream, pattern, resolve: resolveMatch });
      void done.then(() => reject(new Error(`the CLI exited before printing ${pattern} on ${stream}:\n${output.stderr}`)));
    });
  return { child, done, stderrMatching: matching('stderr'), stdoutMatching: matching('stdout') };
}

/** Runs the built CLI with `args` to the end. */
export function runCli(args: string[], options?: Parameters<typeof startCli>[1]) {
  return startCli(args, options).done;
}

/** A validator of the JSON Schema the docs publish as `docs/schemas/${name}.schema.json`. */
function publishedSchema(name: string) {
  const schema = JSON.parse(readFileSync(resolve(import.meta.dirname, `../../docs/schemas/${name}.schema.json`), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

// The schemas the docs publish for --json: every line the CLI prints must fit its command's.
const validateOutput = publishedSchema('device-flow-output');
const validateStatus = publishedSchema('device-flow-status');
const validateProfiles = publishedSchema('device-flow-profiles');

/** The `status --json` line `stdout` holds, after checking that it fits docs/schemas/device-flow-status.schema.json. */
export function documentedStatus(stdout: string): Record<string, any> {
  const value = JSON.parse(stdout) as Record<string, any>;
  if (!validateStatus(value)) throw new Error(`status --json does not fit docs/schemas/device-flow-status.schema.json: ${JSON.stringify(validateStatus.errors)}`);
  return value;
}

/** The `profiles --json` line `stdout` holds, after checking that it fits docs/schemas/device-flow-profiles.schema.json. */
export function documentedProfiles(stdout: string): { profiles: Record<string, any>[] } {
  const value = JSON.parse(stdout) as { profiles: Record<string, any>[] };
  if (!validateProfiles(value)) throw new Error(`profiles --json does not fit docs/schemas/device-flow-profiles.schema.json: ${JSON.stringify(validateProfiles.errors)}`);
  return value;
}

/** The `--json` line `stdout` holds, after checking that it fits the documented schema. */
export function documentedJson(stdout: string): Record<string, any> {
  const value = JSON.parse(stdout) as Record<string, any>;
  if (!validateOutput(value)) throw new Error(`--json output does not fit docs/schemas/device-flow-output.schema.json: ${JSON.stringify(validateOutput.errors)}`);
  return value;
}

/** Whether `value` fits the documented --json schema. */
export function fitsDocumentedJson(value: unknown): boolean {
  return validateOutput(value);
}
