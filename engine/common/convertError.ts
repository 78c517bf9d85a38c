/**
 * A conversion failure the user can act on (bad checkpoint, unsupported model, unwritable
 * output). The CLI prints its message without a stack trace.
 */
export class ConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvertError';
  }
}
