// The renderer's only door to the shell. Runs sandboxed (contextIsolation on, no Node), exposes
// window.hearthDesktop (engine/common/desktopApi.ts) and nothing else; every call goes through
// the channel allowlist, so a compromised page cannot reach arbitrary ipcMain handlers.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { DESKTOP_API_GLOBAL, type HearthDesktopApi, type HostStatus } from '../engine/common/desktopApi.js';
import { deserializeError } from '../engine/common/hostProcess.js';
import type { EventChannel, EventChannels, InvokeArgs, InvokeChannel, InvokeResult } from '../engine/common/ipc/channels.js';
import type { IpcResult } from '../engine/common/ipc/ipcResult.js';
import { assertEventChannel, assertInvokeChannel } from './channelAllowlist.js';

async function invoke<C extends InvokeChannel>(channel: C, ...args: InvokeArgs<C>): Promise<InvokeResult<C>> {
  assertInvokeChannel(channel);
  const result = (await ipcRenderer.invoke(channel, ...args)) as IpcResult<InvokeResult<C>>;
  if (!result.ok) throw deserializeError(result.error);
  return result.value;
}

function subscribe<C extends EventChannel>(channel: C, listener: (payload: EventChannels[C]) => void): () => void {
  assertEventChannel(channel);
  const wrapped = (_event: IpcRendererEvent, payload: EventChannels[C]): void => listener(payload);
  ipcRenderer.on(channel, wrapped);
  return () => void ipcRenderer.off(channel, wrapped);
}

const api: HearthDesktopApi = {
  platform: process.platform,
  getHostInfo: () => invoke('host:get-info'),
  onHostStatus: (listener: (status: HostStatus) => void) => {
    const unsubscribe = subscribe('host:status', listener);
    invoke('host:get-status').then(listener, () => undefined);
    return unsubscribe;
  },
  installCudaProvider: () => invoke('shell:install-cuda'),
  openExternal: (url: string) => invoke('shell:open-external', url),
  pickFolder: (options) => invoke('dialog:pick-folder', options),
};

contextBridge.exposeInMainWorld(DESKTOP_API_GLOBAL, api);
