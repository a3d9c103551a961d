import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

/** A running `device-flow` child process. */
export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>;
  /** Resolves with stderr so far once it matches `pattern`. */
  stderrMatching(pattern: RegExp): Promise<RegExpMatchArray>;
}

/** Starts the built CLI with `args`; it is killed after `timeout` ms. */
export function startCli(
  args: string[],
  { env = {}, timeout = 25_000, command = [process.execPath, CLI], cwd }: { env?: Record<string, string>; timeout?: number; command?: string[]; cwd?: string } = {},
): CliRun {
  const started = Date.now();
  const child = spawn(command[0]!, [...command.slice(1), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    for (const waiter of [...waiters]) {
      const match = stderr.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise<Awaited<CliRun['done']>>((resolveDone) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolveDone({ code, signal, stdout, stderr, ms: Date.now() - started }));
    });
  });
  return {
    child,
    done,
    stderrMatching: (pattern) =>
      new Promise((resolveMatch, reject) => {
        const match = stderr.match(pattern);
        if (match) return resolveMatch(match);
        waiters.push({ pattern, resolve: resolveMatch });
        void done.then(() => reject(new Error(`the CLI exited before printing ${pattern}:\n${stderr}`)));
      }),
  };
}

/** Runs the built CLI with `args` to the end. */
export function runCli(args: string[], options?: Parameters<typeof startCli>[1]) {
  return startCli(args, options).done;
}
