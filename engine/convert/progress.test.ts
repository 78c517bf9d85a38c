import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, terminalProgress } from './progress.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = { isTTY, text: '', write(chunk: string) { stream.text += chunk; return true; } };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

describe('terminal progress', () => {
  it('stays quiet for a quick conversion when stderr is not a terminal', () => {
    const stream = fakeStream(false);
    const progress = terminalProgress(stream);
    progress({ tensorsDone: 1, tensorsTotal: 2, bytesDone: 10, bytesTotal: 20 });
    progress({ tensorsDone: 2, tensorsTotal: 2, bytesDone: 20, bytesTotal: 20 });
    progress.finish();
    assert.equal(stream.text, '');
  });

  it('rewrites one line on a terminal: tensor n of N and bytes', () => {
    const stream = fakeStream(true);
    const progress = terminalProgress(stream);
    progress({ tensorsDone: 3, tensorsTotal: 273, bytesDone: 5 * 1024 * 1024, bytesTotal: 258 * 1024 * 1024 });
    progress({ tensorsDone: 273, tensorsTotal: 273, bytesDone: 258 * 1024 * 1024, bytesTotal: 258 * 1024 * 1024 });
    progress.finish();
    assert.match(stream.text, /^\rconverting: tensor 3 of 273, 5\.0 MiB of 258\.0 MiB/);
    // eslint-disable-next-line no-control-regex -- the terminal's erase-line escape is what is checked
    assert.match(stream.text, /\rconverting: tensor 273 of 273, 258\.0 MiB of 258\.0 MiB\x1b\[K\n$/);
  });

  it('formats sizes with units', () => {
    assert.equal(formatBytes(512), '0.5 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
    assert.equal(formatBytes(2.5 * 1024 ** 3), '2.50 GiB');
  });
});
