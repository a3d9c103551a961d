/**
 * Node.js-only additions: a `fetch` over undici for many concurrent flows, the Stately inspector's relay bound to
 * 127.0.0.1, and token stores in a file or the OS keychain, with the lock file they share.
 *
 * @module
 */

export { createUndiciFetch } from './undiciFetch.js';
export type { UndiciFetchOptions } from './undiciFetch.js';
export { startInspectorRelay } from './inspectorRelay.js';
export type { InspectorRelay } from './inspectorRelay.js';
export { createFileTokenStore } from './fileTokenStore.js';
export type { FileTokenStoreOptions, LockingTokenStore } from './fileTokenStore.js';
export { createKeyringTokenStore } from './keyringTokenStore.js';
export type { KeyringTokenStoreOptions } from './keyringTokenStore.js';
export { withFileLock } from './fileLock.js';
export type { FileLockOptions } from './fileLock.js';
