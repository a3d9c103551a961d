/** Child processes of the benchmark, each pinned to a core when `taskset` is there. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Starts `script` with Node on `core`, with an IPC channel. */
export function startProcess(script: string, core: number, { env = {}, execArgv = [] }: { env?: Record<string, string>; execArgv?: string[] } = {}): ChildProcess {
  const command = hasTaskset ? ['taskset', '-c', String(core), process.execPath] : [process.execPath];
  return spawn(command[0]!, [...command.slice(1), ...execArgv, script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
}

/** The next IPC message of `type` from `child`. */
export async function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  for (;;) {
    const [message] = (await once(child, 'message')) as [{ type: string }];
    if (message.type === type) return message as T;
  }
}

export const pinned = hasTaskset;
