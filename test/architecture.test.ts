/**
 * The layers of src/ (docs/architecture.md), enforced: every import points down the list below, never up and never
 * sideways between two layers of the same rank; the lower layers use no I/O, and the core no XState.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Each folder of src/ and its rank: a module may import from a lower rank, and from its own folder. */
const LAYERS: Record<string, number> = { core: 0, machines: 1, http: 2, flow: 3, node: 3, devServer: 3, promise: 4, cli: 5, '.': 6 };

/** Packages a layer must not import: XState above the core only, I/O above the statechart only. */
const FORBIDDEN: Record<string, RegExp> = {
  core: /^(xstate|ofetch|undici|node:|@statelyai\/|oidc-provider)/,
  machines: /^(ofetch|undici|node:|@statelyai\/|oidc-provider)/,
};

function layerOf(path: string): string {
  const [top, next] = relative('src', path).split('/');
  return next === undefined ? '.' : top!;
}

/** Every module specifier `source` imports or re-exports, types and dynamic imports included. */
function specifiers(path: string, source: string): string[] {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0]!)) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** What breaks the layering among `files` (paths relative to the repository, with their text). */
export function layeringViolations(files: Map<string, string>): string[] {
  const violations: string[] = [];
  for (const [path, source] of files) {
    const layer = layerOf(path);
    if (!(layer in LAYERS)) {
      violations.push(`${path} is in no layer`);
      continue;
    }
    for (const specifier of specifiers(path, source)) {
      if (specifier.startsWith('.')) {
        const target = normalize(join(dirname(path), specifier));
        if (!target.startsWith('src/')) {
          violations.push(`${path} imports ${specifier}, outside src/`);
          continue;
        }
        const targetLayer = layerOf(target);
        if (targetLayer !== layer && !(LAYERS[targetLayer]! < LAYERS[layer]!)) violations.push(`${path} (${layer}) imports ${specifier} (${targetLayer})`);
      } else if (FORBIDDEN[layer]?.test(specifier)) {
        violations.push(`${path} (${layer}) imports ${specifier}`);
      }
    }
  }
  return violations;
}

function sources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = relative(root, join(entry.parentPath, entry.name));
    files.set(path, readFileSync(join(root, path), 'utf8'));
  }
  return files;
}

describe('the layers of src/', () => {
  it('are respected by every import', () => {
    const files = sources();
    expect(files.size).toBeGreaterThan(40);
    expect(layeringViolations(files)).toEqual([]);
  });

  it('catch a planted import against the order, sideways, out of src/, or of a forbidden package', () => {
    const planted = new Map([
      ['src/core/errors.ts', "import { OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';"],
      ['src/machines/types.ts', "import type { TransportOptions } from '../http/actors.js';"],
      ['src/flow/clocks.ts', "const relay = await import('../node/inspectorRelay.js');"],
      ['src/http/actors.ts', "type Setup = typeof import('../promise/authorizeDevice.js');"],
      ['src/core/redact.ts', "import { setup } from 'xstate';"],
      ['src/machines/clock.ts', "import { setTimeout } from 'node:timers';"],
      ['src/cli/run.ts', "import { readFile } from '../../test/helpers/cli.js';"],
      ['src/http/sendRequest.ts', "import { DeviceFlowError } from '../core/errors.js'; import { announce } from '../machines/announcements.js';"],
    ]);
    expect(layeringViolations(planted)).toEqual([
      'src/core/errors.ts (core) imports ../flow/oauth2DeviceAuthorizationFlow.js (flow)',
      'src/machines/types.ts (machines) imports ../http/actors.js (http)',
      'src/flow/clocks.ts (flow) imports ../node/inspectorRelay.js (node)',
      'src/http/actors.ts (http) imports ../promise/authorizeDevice.js (promise)',
      'src/core/redact.ts (core) imports xstate',
      'src/machines/clock.ts (machines) imports node:timers',
      'src/cli/run.ts imports ../../test/helpers/cli.js, outside src/',
    ]);
  });
});
