// All IPC channels the preload may use: the union of the channel families. Anything else is refused.
import { DIALOG_INVOKE_CHANNELS, type DialogInvokeChannels } from './dialogChannels.js';
import { HOST_EVENT_CHANNELS, HOST_INVOKE_CHANNELS, type HostEventChannels, type HostInvokeChannels } from './hostChannels.js';
import { SHELL_INVOKE_CHANNELS, type ShellInvokeChannels } from './shellChannels.js';

export type InvokeChannels = HostInvokeChannels & ShellInvokeChannels & DialogInvokeChannels;
export type InvokeChannel = keyof InvokeChannels;
export type InvokeArgs<C extends InvokeChannel> = InvokeChannels[C]['args'];
export type InvokeResult<C extends InvokeChannel> = InvokeChannels[C]['result'];

export type EventChannels = HostEventChannels;
export type EventChannel = keyof EventChannels;

export const INVOKE_CHANNELS: readonly InvokeChannel[] = [...HOST_INVOKE_CHANNELS, ...SHELL_INVOKE_CHANNELS, ...DIALOG_INVOKE_CHANNELS];
export const EVENT_CHANNELS: readonly EventChannel[] = [...HOST_EVENT_CHANNELS];
