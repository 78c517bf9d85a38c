// IPC channel family "shell": desktop actions the browser can't do (open a link outside the app,
// install the CUDA provider).
import type { CudaInstallResult } from '../desktopApi.js';

/** renderer → main (ipcRenderer.invoke / ipcMain.handle). */
export interface ShellInvokeChannels {
  'shell:open-external': { args: [url: string]; result: void };
  'shell:install-cuda': { args: []; result: CudaInstallResult };
}

export const SHELL_INVOKE_CHANNELS = ['shell:open-external', 'shell:install-cuda'] as const satisfies readonly (keyof ShellInvokeChannels)[];
