/**
 * Checks of the options that are not properties of the statechart (the client secret, the limits on requests).
 *
 * @module
 */

import { DeviceFlowError } from './errors.js';

/**
 * `value` if it is a string.
 *
 * @throws {DeviceFlowError} `ClientError` naming the setting otherwise.
 */
export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidSetting(name, 'must be a string');
  return value;
}

/**
 * `value` if it is a positive finite number.
 *
 * @throws {DeviceFlowError} `ClientError` naming the setting otherwise.
 */
export function requirePositiveNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalidSetting(name, 'must be a positive number');
  return value;
}

/**
 * `value` if it is a finite number, 0 or more.
 *
 * @throws {DeviceFlowError} `ClientError` naming the setting otherwise.
 */
export function requireNonNegativeNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidSetting(name, 'must be a number, 0 or more');
  return value;
}

/** The `ClientError` for setting `name`, which `problem` (words after the name) describes; it never quotes a value. */
export function invalidSetting(name: string, problem: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `Invalid setting: ${name} ${problem}`);
}
