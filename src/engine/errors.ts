/**
 * Typed, user-facing errors. `message` is a sentence a user understands (what was expected,
 * what was found); `code` lets the UI and tests tell kinds apart without parsing text.
 */
export type LabErrorCode =
  | 'bad-model-file'
  | 'busy'
  | 'bad-weights'
  | 'bad-safetensors'
  | 'bad-onnx'
  | 'bad-dataset'
  | 'bad-image'
  | 'bad-argument'
  | 'bad-keep-set'
  | 'identity-leak'
  | 'cancelled'
  | 'training-diverged'
  | 'out-of-memory'
  | 'device-lost'
  | 'storage';

export class LabError extends Error {
  override name = 'LabError';
  readonly code: LabErrorCode;
  /** Optional structured detail (e.g. { tensor, expected, found }). */
  readonly detail?: Record<string, unknown>;

  constructor(code: LabErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

export function isLabError(e: unknown, code?: LabErrorCode): e is LabError {
  return e instanceof LabError && (code === undefined || e.code === code);
}

/** Thrown by long operations when the user cancels; state is left as before the current step. */
export class CancelledError extends LabError {
  override name = 'CancelledError';
  constructor(what = 'Operation') {
    super('cancelled', `${what} was cancelled.`);
  }
}
