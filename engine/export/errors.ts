// The export's user-facing error: what went wrong and what to do, shown by the CLI and the Export view.
export class ExportError extends Error {
  override readonly name = 'ExportError';
}
