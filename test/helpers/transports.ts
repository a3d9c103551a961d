/**
 * The two roads of a request given no `fetch`: the main entry's (the global `fetch`, as in browsers) and the Node.js
 * entry's (undici through its form transport, loaded on the first request). Transport-level tests run over both, so
 * that the fast default keeps every behaviour of the `fetch` path.
 */
import { afterAll, beforeAll } from 'vitest';
import { type FormTransport, setDefaultFormTransport } from '../../src/http/formTransport.js';
import { undiciOnFirstRequest } from '../../src/node/defaultTransport.js';

export const DEFAULT_TRANSPORTS: [string, FormTransport | undefined][] = [
  ['the global fetch (the main entry)', undefined],
  ['undici (the Node.js entry)', undiciOnFirstRequest],
];

/** In the enclosing `describe`, requests given no `fetch` take `transport` (the global `fetch` for `undefined`). */
export function givenNoFetchUse(transport: FormTransport | undefined): void {
  beforeAll(() => setDefaultFormTransport(transport));
  afterAll(() => setDefaultFormTransport(undefined));
}
