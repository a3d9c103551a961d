import { expect } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';

/** The DeviceFlowError `run` throws; fails the test when it throws nothing or something else. */
export function thrownBy(run: () => unknown): DeviceFlowError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DeviceFlowError);
    return error as DeviceFlowError;
  }
  throw new Error('expected a DeviceFlowError, but nothing was thrown');
}

/** The DeviceFlowError `promise` rejects with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<DeviceFlowError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DeviceFlowError);
    return error as DeviceFlowError;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
