// IPC channel family "dialog": the OS's own pickers, which a sandboxed page cannot open (a browser
// has no way to hand a page a folder's path).
import type { FolderPickOptions } from '../desktopApi.js';

/** renderer → main (ipcRenderer.invoke / ipcMain.handle). */
export interface DialogInvokeChannels {
  /** The folder the user chose, or null when they closed the dialog. */
  'dialog:pick-folder': { args: [options: FolderPickOptions]; result: string | null };
}

export const DIALOG_INVOKE_CHANNELS = ['dialog:pick-folder'] as const satisfies readonly (keyof DialogInvokeChannels)[];
