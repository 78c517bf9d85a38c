// Lock files and scratch folders carry the pid of the process that owns them; an owner that is
// gone leaves them abandoned, for the next process to clear.

/** Whether process `pid` exists (EPERM: it does, but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
