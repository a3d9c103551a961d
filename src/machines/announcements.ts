/**
 * How the machine tells the world what changed: each change of a property is assigned and announced with a
 * `…Changed` emitted event, in the order the caller lists them, and only when the value really changes.
 *
 * @module
 */

import type { DeviceFlowError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { type FlowProperties, type FlowStatus, type PropertyName, sameProperty } from '../core/propertyRules.js';
import type { DeviceFlowContext, DeviceFlowEmitted } from './types.js';

/** The part of `enqueueActions`' `enqueue` that announcements use. */
export interface Enqueue {
  assign(values: Partial<DeviceFlowContext> | ((args: { context: DeviceFlowContext }) => Partial<DeviceFlowContext>)): void;
  emit(event: DeviceFlowEmitted): void;
}

/**
 * Assigns `changes` and emits `…Changed` for each that differs from `context`, in the order of `changes`; `quietly`
 * is assigned in the same step without announcements. One assignment for all: each copies the whole context.
 */
export function announce(
  enqueue: Enqueue,
  context: DeviceFlowContext,
  changes: Partial<FlowProperties>,
  quietly: Partial<DeviceFlowContext> = {},
): void {
  let changed: Partial<FlowProperties> | null = null;
  for (const name in changes) {
    const value = changes[name as PropertyName];
    if (value === undefined || sameProperty(name as PropertyName, context.properties[name as PropertyName], value as never)) continue;
    ((changed ??= {}) as Record<string, unknown>)[name] = value;
    enqueue.emit({ type: `${name}Changed`, value } as DeviceFlowEmitted);
  }
  if (changed !== null) {
    const properties = changed;
    // Merged into the properties as they are when the assignment runs: an action may announce more than once. The
    // spread copy keeps the properties' hidden class, so every copy is as fast as the first.
    enqueue.assign(({ context: current }) => ({ ...quietly, properties: { ...current.properties, ...properties } }));
  } else if (Object.keys(quietly).length > 0) enqueue.assign(quietly);
}

/**
 * `error` with the secrets the statechart holds redacted, and its cause reduced to a sanitised copy. The services
 * redact what they know (the client secret); the tokens and the device code are known here.
 */
export function redactKnownSecrets(error: DeviceFlowError, context: DeviceFlowContext): DeviceFlowError {
  return redactSecrets(error, [context.properties.token, context.properties.refreshToken, context.properties.idToken, context.deviceCode]);
}

/** What to report about a failure: the error, and the status to announce before `requestFailed` (docs/qt-behaviour.md, "Refresh"). */
export interface FailureReport {
  error: DeviceFlowError;
  status?: FlowStatus;
}

/**
 * Reports a failure in Qt's order: `serverReportedErrorOccurred` when the server sent an OAuth error, the status
 * change if any, then `requestFailed`. The error is kept as `lastError`, with any token or device code redacted.
 */
export function reportFailure(enqueue: Enqueue, context: DeviceFlowContext, report: FailureReport): void {
  const error = redactKnownSecrets(report.error, context);
  const { status } = report;
  if (error.error !== undefined) {
    enqueue.emit({ type: 'serverReportedErrorOccurred', error: error.error, errorDescription: error.errorDescription ?? '', uri: error.errorUri ?? null });
  }
  announce(enqueue, context, { status }, { lastError: error.toData() });
  enqueue.emit({ type: 'requestFailed', error });
}
