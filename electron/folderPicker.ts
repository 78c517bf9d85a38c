// The "dialog:pick-folder" channel's two pure halves: the options main hands to
// dialog.showOpenDialog (built from what the page sent, which main does not trust), and the
// answer it sends back. Pure, so they are unit-tested without Electron.
import type { OpenDialogOptions, OpenDialogReturnValue } from 'electron';

const MAX_LABEL_CHARS = 120;

function label(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, MAX_LABEL_CHARS) : undefined;
}

/** A folder picker (folders only, one of them) titled as the page asked, whatever else it sent. */
export function folderDialogOptions(options: unknown): OpenDialogOptions {
  const fields = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : {};
  const buttonLabel = label(fields.buttonLabel);
  return { title: label(fields.title) ?? 'Choose a folder', ...(buttonLabel ? { buttonLabel } : {}), properties: ['openDirectory'] };
}

/** The chosen folder's path, or null when the user closed the dialog. */
export function pickedFolder(result: OpenDialogReturnValue): string | null {
  return result.canceled ? null : (result.filePaths[0] ?? null);
}
