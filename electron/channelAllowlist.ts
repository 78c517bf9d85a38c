// The preload's gate: only the channels named in engine/common/ipc/* may cross. Pure, so the
// refusal of unknown channels is unit-tested without Electron.
import { EVENT_CHANNELS, INVOKE_CHANNELS, type EventChannel, type InvokeChannel } from '../engine/common/ipc/channels.js';

export class UnknownChannelError extends Error {
  override readonly name = 'UnknownChannelError';
  constructor(channel: unknown, kind: 'invoke' | 'event') {
    super(`IPC ${kind} channel ${JSON.stringify(String(channel))} is not allowed: a bug in the caller (allowed channels are listed in engine/common/ipc/).`);
  }
}

export function isInvokeChannel(channel: unknown): channel is InvokeChannel {
  return typeof channel === 'string' && (INVOKE_CHANNELS as readonly string[]).includes(channel);
}

export function isEventChannel(channel: unknown): channel is EventChannel {
  return typeof channel === 'string' && (EVENT_CHANNELS as readonly string[]).includes(channel);
}

export function assertInvokeChannel(channel: unknown): asserts channel is InvokeChannel {
  if (!isInvokeChannel(channel)) throw new UnknownChannelError(channel, 'invoke');
}

export function assertEventChannel(channel: unknown): asserts channel is EventChannel {
  if (!isEventChannel(channel)) throw new UnknownChannelError(channel, 'event');
}
