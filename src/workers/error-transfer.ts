/**
 * Carry LabError's `code` and `detail` across the worker boundary. comlink's stock "throw"
 * handler keeps only name, message and stack, so the UI could not tell a cancelled job from a
 * bad file without parsing text. Install on both sides (worker and page) before any call.
 */
import * as Comlink from 'comlink';
import { LabError, type LabErrorCode } from '../engine/errors';

interface SerializedThrow {
  isError: boolean;
  value: unknown;
}

interface SerializedError {
  message: string;
  name: string;
  stack?: string;
  code?: LabErrorCode;
  detail?: Record<string, unknown>;
}

/** The detail survives only if it is plain JSON (it is informational, never required). */
function plainDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!detail) return undefined;
  try {
    return JSON.parse(JSON.stringify(detail)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  const stock = Comlink.transferHandlers.get('throw');
  if (!stock) throw new Error('comlink has no "throw" transfer handler; its version changed.');
  installed = true;
  Comlink.transferHandlers.set('throw', {
    canHandle: (v: unknown): v is unknown => stock.canHandle(v),
    serialize(marked: unknown) {
      const value = (marked as { value: unknown }).value;
      let out: SerializedThrow;
      if (value instanceof Error) {
        const e: SerializedError = { message: value.message, name: value.name, stack: value.stack };
        if (value instanceof LabError) {
          e.code = value.code;
          e.detail = plainDetail(value.detail);
        }
        out = { isError: true, value: e };
      } else {
        out = { isError: false, value };
      }
      return [out, []];
    },
    deserialize(s: unknown): never {
      const { isError, value } = s as SerializedThrow;
      if (!isError) throw value;
      const e = value as SerializedError;
      if (e.code) {
        const err = new LabError(e.code, e.message, e.detail);
        err.name = e.name;
        throw err;
      }
      throw Object.assign(new Error(e.message), e);
    },
  });
}
