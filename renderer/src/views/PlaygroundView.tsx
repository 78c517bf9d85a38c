// Playground: chat with the served model, streamed, with sampling controls and per-message
// timings (time to first token, total, tokens/s as seen from here). Replies render as sanitized
// Markdown; a reasoning model's thinking shows in a collapsible block above its answer.
import { useRef, useState } from 'react';
import { ChatError, streamChat, type ChatMessage, type ChatTimings, type SamplingControls } from '../api/chat.js';
import { Markdown } from '../components/Markdown.js';
import { Card, Empty } from '../components/States.js';
import { formatMs, formatRate } from '../components/format.js';
import { useHost } from '../hostContext.js';
import type { ViewProps } from './viewProps.js';

interface Turn {
  role: 'user' | 'assistant';
  content: string;
  /** The model's reasoning (`reasoning_content`); not sent back in the history. */
  reasoning?: string;
  timings?: ChatTimings;
  error?: string;
  streaming?: boolean;
}

export function PlaygroundView({ go }: ViewProps) {
  const { client, serve } = useHost();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState('');
  const [system, setSystem] = useState('');
  const [sampling, setSampling] = useState<SamplingControls>({ temperature: 0.7, topP: 0.95, maxTokens: 128 });
  const [seedText, setSeedText] = useState('');
  const abort = useRef<AbortController | null>(null);
  const streaming = turns.some((turn) => turn.streaming);

  if (serve.state !== 'ready') {
    return (
      <div className="view" data-testid="view-playground">
        <h1>Playground</h1>
        <Empty title={serve.state === 'starting' ? `Loading ${serve.settings?.model ?? 'the model'}…` : serve.state === 'failed' ? 'The model could not be served.' : 'No model is being served.'}>
          {serve.state === 'failed' && serve.error && <div className="error-text" data-testid="playground-serve-error">{serve.error}</div>}
          {serve.state !== 'starting' && <button type="button" onClick={() => go('serve')}>Start serving a model</button>}
        </Empty>
      </div>
    );
  }

  const updateLast = (change: (turn: Turn) => Turn) => setTurns((all) => [...all.slice(0, -1), change(all[all.length - 1]!)]);

  const send = async () => {
    const text = input.trim();
    if (!text || streaming) return;
    const history: ChatMessage[] = [
      ...(system.trim() ? [{ role: 'system' as const, content: system.trim() }] : []),
      ...turns.filter((turn) => !turn.error).map((turn) => ({ role: turn.role, content: turn.content })),
      { role: 'user', content: text },
    ];
    setInput('');
    setTurns((all) => [...all, { role: 'user', content: text }, { role: 'assistant', content: '', streaming: true }]);
    const controller = new AbortController();
    abort.current = controller;
    const seed = seedText.trim() === '' ? undefined : Number(seedText);
    try {
      const timings = await streamChat(
        client,
        { model: serve.servedName ?? '', messages: history, sampling: { ...sampling, seed } },
        (delta) =>
          updateLast((turn) => ({
            ...turn,
            content: turn.content + (delta.content ?? ''),
            ...(delta.reasoning ? { reasoning: (turn.reasoning ?? '') + delta.reasoning } : {}),
          })),
        controller.signal,
      );
      updateLast((turn) => ({ ...turn, streaming: false, timings }));
    } catch (error) {
      const message = controller.signal.aborted
        ? 'Stopped.'
        : error instanceof ChatError
          ? `${error.status}: ${error.message}`
          : `The stream broke: ${(error as Error).message}. Check the Serve tab and try again.`;
      updateLast((turn) => ({ ...turn, streaming: false, error: message }));
    } finally {
      abort.current = null;
    }
  };

  return (
    <div className="view playground" data-testid="view-playground">
      <h1>Playground <span className="muted small">— {serve.servedName}</span></h1>
      <div className="playground-grid">
        <Card title="Chat">
          <div className="chat" data-testid="chat">
            {turns.length === 0 && <Empty title="Say something to the model.">Messages stream in as they are generated.</Empty>}
            {turns.map((turn, index) => (
              <div key={index} className={`bubble bubble-${turn.role}${turn.error ? ' bubble-error' : ''}`} data-testid={`msg-${turn.role}`}>
                {turn.reasoning && (
                  // Open while the model is still thinking; collapsed once the answer starts.
                  <details className="reasoning" open={turn.streaming && !turn.content} data-testid="msg-reasoning">
                    <summary>Reasoning</summary>
                    <div className="reasoning-text">{turn.reasoning}</div>
                  </details>
                )}
                {turn.role === 'assistant' && turn.content ? (
                  <Markdown className="bubble-text" text={turn.content} />
                ) : (
                  <div className="bubble-text">{turn.content || (turn.streaming && !turn.reasoning ? '…' : '')}</div>
                )}
                {turn.error && <div className="error-text" data-testid="chat-error">{turn.error}</div>}
                {turn.timings && (
                  <div className="timings" data-testid="msg-timings">
                    TTFT {formatMs(turn.timings.ttftMs)} · total {formatMs(turn.timings.totalMs)} · {turn.timings.completionTokens ?? '?'} tokens · {formatRate(turn.timings.tokensPerSec)}
                    {turn.timings.finishReason === 'length' && ' · stopped at max tokens'}
                  </div>
                )}
              </div>
            ))}
          </div>
          <form className="chat-input" onSubmit={(event) => { event.preventDefault(); void send(); }}>
            <textarea
              value={input}
              onChange={(event) => setInput(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && !event.shiftKey) {
                  event.preventDefault();
                  void send();
                }
              }}
              placeholder="Message (Enter to send, Shift+Enter for a new line)"
              rows={3}
              // The Models view's Chat action lands here: typing goes straight into the message.
              autoFocus
              data-testid="chat-input"
            />
            <div className="column">
              {streaming ? (
                <button type="button" className="danger" onClick={() => abort.current?.abort()}>Stop</button>
              ) : (
                <button type="submit" className="primary" disabled={!input.trim()} data-testid="chat-send">Send</button>
              )}
              <button type="button" onClick={() => setTurns([])} disabled={streaming}>Clear</button>
            </div>
          </form>
        </Card>
        <Card title="Sampling">
          <div className="form-grid single">
            <label>System prompt<textarea rows={3} value={system} onChange={(event) => setSystem(event.target.value)} /></label>
            <label>Temperature <strong>{sampling.temperature.toFixed(2)}</strong>
              <input type="range" min={0} max={2} step={0.05} value={sampling.temperature} onChange={(event) => setSampling({ ...sampling, temperature: Number(event.target.value) })} />
            </label>
            <label>Top-p <strong>{sampling.topP.toFixed(2)}</strong>
              <input type="range" min={0.05} max={1} step={0.05} value={sampling.topP} onChange={(event) => setSampling({ ...sampling, topP: Number(event.target.value) })} />
            </label>
            <label>Max tokens
              <input type="number" min={1} value={sampling.maxTokens} onChange={(event) => setSampling({ ...sampling, maxTokens: Number(event.target.value) })} data-testid="max-tokens" />
            </label>
            <label>Seed (empty = random)
              <input value={seedText} onChange={(event) => setSeedText(event.target.value.replace(/[^0-9]/g, ''))} />
            </label>
          </div>
        </Card>
      </div>
    </div>
  );
}
