/**
 * How the machine tells the world what changed: each change of a property is assigned and announced with a
 * `…Changed` emitted event, in the order the caller lists them, and only when the value really changes.
 *
 * @module
 */

import type { DeviceFlowError } from '../src/errors.js';
import { redactSecrets } from '../src/redact.js';
import { sameValue } from './sameValue.js';
import type { DeviceFlowContext, DeviceFlowEmitted, FlowProperties, FlowStatus } from './types.js';

/** The part of `enqueueActions`' `enqueue` that announcements use. */
export interface Enqueue {
  assign(values: Partial<DeviceFlowContext>): void;
  emit(event: DeviceFlowEmitted): void;
}

/**
 * Assigns `changes` and emits `…Changed` for each that differs from `context`, in the order of `changes`.
 *
 * @returns the context as it is after the changes, to chain further announcements within one action.
 */
export function announce(enqueue: Enqueue, context: DeviceFlowContext, changes: Partial<FlowProperties>): DeviceFlowContext {
  const next = { ...context };
  for (const [name, value] of Object.entries(changes) as [keyof FlowProperties, unknown][]) {
    if (value === undefined || sameValue(next[name], value)) continue;
    (next as Record<string, unknown>)[name] = value;
    enqueue.assign({ [name]: value });
    enqueue.emit({ type: `${name}Changed`, value } as DeviceFlowEmitted);
  }
  return next;
}

/** What to report about a failure: the error, and the status to announce before `requestFailed` (Qt §4.4). */
export interface FailureReport {
  error: DeviceFlowError;
  status?: FlowStatus;
}

/**
 * Reports a failure in Qt's order: `serverReportedErrorOccurred` when the server sent an OAuth error, the status
 * change if any, then `requestFailed`. The error is kept as `lastError`, with any token or device code redacted.
 */
export function reportFailure(enqueue: Enqueue, context: DeviceFlowContext, report: FailureReport): DeviceFlowContext {
  // The services redact what they know; the tokens and the device code are known here.
  const error = redactSecrets(report.error, [context.token, context.refreshToken, context.idToken, context.deviceCode]);
  const { status } = report;
  if (error.error !== undefined) {
    enqueue.emit({ type: 'serverReportedErrorOccurred', error: error.error, errorDescription: error.errorDescription ?? '', uri: error.errorUri ?? null });
  }
  const next = status === undefined ? context : announce(enqueue, context, { status });
  enqueue.assign({ lastError: error.toData() });
  enqueue.emit({ type: 'requestFailed', error });
  return { ...next, lastError: error.toData() };
}
