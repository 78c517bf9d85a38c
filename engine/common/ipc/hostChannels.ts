// IPC channel family "host": the renderer asks the shell about the engine host process.
// Both the preload and electron/main import these names and payload types.
import type { HostInfo, HostStatus } from '../desktopApi.js';

/** renderer → main (ipcRenderer.invoke / ipcMain.handle). */
export interface HostInvokeChannels {
  'host:get-info': { args: []; result: HostInfo };
  'host:get-status': { args: []; result: HostStatus };
}

/** main → renderer (webContents.send / ipcRenderer.on). */
export interface HostEventChannels {
  'host:status': HostStatus;
}

export const HOST_INVOKE_CHANNELS = ['host:get-info', 'host:get-status'] as const satisfies readonly (keyof HostInvokeChannels)[];
export const HOST_EVENT_CHANNELS = ['host:status'] as const satisfies readonly (keyof HostEventChannels)[];
