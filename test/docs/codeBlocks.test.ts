/**
 * Every ```ts and ```tsx block of the README and docs/ type-checks, strict, against the package's own sources: a
 * reader can paste it. Each block is a module of its own; the names an example leaves to the reader (`showCode`, the
 * endpoints) are declared in a prelude, and nothing else is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/** What the examples leave to the reader: the application's own functions and values. */
const PRELUDE = `
declare const authorizationUrl: string;
declare const tokenUrl: string;
declare const verificationUrl: string;
declare const userCode: string;
declare const saved: import('oauth2-device-flow').DeviceFlowSnapshot;
declare const options: import('oauth2-device-flow').DeviceFlowOptions;
declare const clientSecret: string;
declare const secureStore: { get(key: string): Promise<string | null>; set(key: string, value: string): Promise<void> };
declare const runningFlow: import('oauth2-device-flow').OAuth2DeviceAuthorizationFlow;
declare const actor: import('xstate').Actor<import('oauth2-device-flow').DeviceAuthorizationMachine>;
declare const myBackend: {
  startDeviceLogin(input: import('oauth2-device-flow').DeviceAuthorizationRequest, signal: AbortSignal): Promise<import('oauth2-device-flow').DeviceAuthorization>;
  poll(deviceCode: string, signal: AbortSignal): Promise<import('oauth2-device-flow').PollOutcome>;
  refresh(refreshToken: string, signal: AbortSignal): Promise<import('oauth2-device-flow').TokenResponse>;
};
declare const myFetch: import('oauth2-device-flow').FetchFunction;
declare function proof(stage: string): string;
declare function show(...values: unknown[]): void;
declare function showCode(...values: unknown[]): void;
declare function showOnScreen(...values: unknown[]): void;
declare function showError(...values: unknown[]): void;
declare function showDenied(): void;
declare function showQrCode(url: URL): void;
declare function startCountdown(expiresAt: Date): void;
declare function signedIn(...tokens: string[]): void;
declare function failed(code: string): void;
declare function offerNewCode(): void;
declare function showRestartButton(): void;
declare function offerRestart(): void;
declare function useToken(token: string): void;
declare function use(token: string): void;
declare function render(...values: unknown[]): void;
declare function ShowCode(props: { userCode: string; expiresAt: number | null }): JSX.Element;
`;

interface Block {
  file: string;
  line: number;
  language: 'ts' | 'tsx';
  code: string;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), join(root, 'examples/tv-app/README.md'), ...docs];
}

function blocks(): Block[] {
  const found: Block[] = [];
  for (const file of markdownFiles()) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const match of text.matchAll(/^```(tsx?)\n([\s\S]*?)^```$/gm)) {
      found.push({ file: relative(root, file), line: text.slice(0, match.index).split('\n').length, language: match[1] as 'ts' | 'tsx', code: match[2]! });
    }
  }
  return found;
}

/** The diagnostics of each of `blocks`, compiled together (each a module of its own) with the prelude, against src/. */
function diagnostics(blocks: readonly Block[]): string[][] {
  const names = blocks.map((block, index) => join(root, `.docs-block-${index}.${block.language}`));
  const prelude = join(root, '.docs-prelude.d.ts');
  const sources = new Map<string, string>([[prelude, PRELUDE], ...blocks.map((block, index) => [names[index]!, `${block.code}\nexport {};\n`] as [string, string])]);
  const options: ts.CompilerOptions = {
    strict: true,
    noUncheckedIndexedAccess: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node'],
    jsx: ts.JsxEmit.ReactJSX,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: root,
    paths: {
      'oauth2-device-flow': ['src/index.ts'],
      'oauth2-device-flow/node': ['src/node/index.ts'],
      'oauth2-device-flow/dev-server': ['src/devServer/index.ts'],
    },
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (path) => sources.get(path) ?? read(path);
  host.fileExists = (path) => sources.has(path) || exists(path);
  host.getSourceFile = (path, language, ...rest) =>
    sources.has(path) ? ts.createSourceFile(path, sources.get(path)!, language, true) : getSourceFile(path, language, ...rest);
  const program = ts.createProgram([prelude, ...names], options, host);
  return blocks.map((block, index) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(names[index]!)).map((diagnostic) => {
      const where = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line : 0;
      return `${block.file}:${block.line + where + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    }),
  );
}

const found = blocks();
let problems: string[][] = [];

describe('TypeScript in the docs', () => {
  beforeAll(() => {
    problems = diagnostics(found);
  }, 60_000);

  it('has blocks to check', () => {
    expect(found.length).toBeGreaterThan(10);
  });

  it.each(found.map((block, index) => [`${block.file}:${block.line}`, index] as const))('%s type-checks', (_where, index) => {
    expect(problems[index]).toEqual([]);
  });
});
