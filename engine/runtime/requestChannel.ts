// A request's event stream: the engine pushes, the HTTP handler iterates. Unbounded on purpose:
// a request produces at most maxNewTokens + 1 events.
import type { EngineEvent, RequestHandle } from '../common/engineApi.js';

export class RequestChannel implements RequestHandle {
  private readonly buffered: EngineEvent[] = [];
  private waiter: ((result: IteratorResult<EngineEvent>) => void) | null = null;
  private ended = false;

  constructor(
    readonly requestId: string,
    private readonly onCancel: () => void,
  ) {}

  cancel(): void {
    this.onCancel();
  }

  push(event: EngineEvent): void {
    if (this.ended) return;
    if (event.type === 'done') this.ended = true;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: event, done: false });
    } else this.buffered.push(event);
  }

  [Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    let finished = false;
    return {
      next: () => {
        if (finished) return Promise.resolve({ value: undefined, done: true });
        const event = this.buffered.shift();
        if (event) {
          if (event.type === 'done') finished = true;
          return Promise.resolve({ value: event, done: false });
        }
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = (result) => {
            if (!result.done && result.value.type === 'done') finished = true;
            resolve(result);
          };
        });
      },
      // Breaking out of `for await` (client went away) cancels the request.
      return: () => {
        if (!this.ended) this.onCancel();
        finished = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
