// Workers that die (tracker issue 13, item 7): a worker terminated, exiting, crashing, hanging or
// vanishing without a word never freezes the calling thread for the 120 s job timeout. A job no
// worker took runs on the calling thread (bit-identical), a job a worker took and lost fails
// with an error that names the worker and why, and the pool replaces the worker for later calls.
// Each case runs in a child process (test/fixtures/worker-fault-child.mjs), so a regression
// hangs a child with a timeout, not the test runner.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const child = fileURLToPath(new URL('./fixtures/worker-fault-child.mjs', import.meta.url));

interface Timed { ms: number; value?: number; error?: string; ok?: boolean }

function run(mode: string, env: Record<string, string> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, mode], { timeout: 30_000, encoding: 'utf8', env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${mode}: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
      });
  });
}

/** Later pooled calls give the same numbers as before the fault, quickly. */
function expectHealthy(r: any) {
  for (const t of r.later as Timed[]) {
    expect(t.error).toBeUndefined();
    expect(t.value).toBe(r.reference);
    expect(t.ms).toBeLessThan(2000);
  }
}

describe('a worker that dies', () => {
  test('terminated through the pool (awaited or not): the next pooled calls replace it and give the same numbers at once', async () => {
    const r = await run('terminate');
    for (const t of [r.afterTerminate, r.afterAwaitedTerminate] as Timed[]) {
      expect(t.error).toBeUndefined();
      expect(t.value).toBe(r.reference);
      expect(t.ms).toBeLessThan(2000);
    }
    expectHealthy(r);
    expect(r.runningThreads).toBe(3); // both replaced
    expect(r.deaths).toEqual(['worker 0 was terminated', 'worker 1 was terminated']);
  }, 40_000);

  test('process.exit inside its job: that call fails at once naming the worker and the exit code; later calls work', async () => {
    const r = await run('exit');
    expect(r.faulty.error).toMatch(/kernel scale_f32 failed in worker 0: the worker exited with code 3 while it ran scale_f32/);
    expect(r.faulty.ms).toBeLessThan(2000);
    expect(r.next.error).toBeUndefined();
    expect(r.next.ok).toBe(true);
    expectHealthy(r);
    expect(r.deaths).toEqual(['worker 0 exited with code 3']);
  }, 40_000);

  test('a worker that dies job after job is replaced twice, then its ranges run on the calling thread (same results)', async () => {
    const r = await run('exit-again');
    const calls = r.calls as Timed[];
    for (const c of calls.slice(0, 3)) expect(c.error).toMatch(/failed in worker 0: the worker exited with code 3/);
    for (const c of calls.slice(3)) {
      expect(c.error).toBeUndefined();
      expect(c.ok).toBe(true);
    }
    for (const c of calls) expect(c.ms).toBeLessThan(2000);
    expect(r.deaths).toEqual(Array(3).fill('worker 0 exited with code 3'));
    expect(r.runningThreads).toBe(1); // worker 0 is not replaced again (runningThreads counts leading workers)
    expectHealthy(r);
  }, 40_000);

  test('its job loop crashes after taking a job: that call fails with the crash message; later calls work', async () => {
    const r = await run('crash');
    expect(r.faulty.error).toMatch(/failed in worker 0: the worker crashed: injected while it ran scale_f32/);
    expect(r.faulty.ms).toBeLessThan(2000);
    expect(r.next.ok).toBe(true);
    expectHealthy(r);
    expect(r.deaths).toEqual(['worker 0 crashed: injected']);
  }, 40_000);

  test('it stops before taking its job and leaves no trace: the calling thread runs the job (same result) within ~1 s', async () => {
    const r = await run('silent');
    expect(r.faulty.error).toBeUndefined();
    expect(r.faulty.ok).toBe(true);
    expect(r.faulty.ms).toBeGreaterThanOrEqual(900);
    expect(r.faulty.ms).toBeLessThan(2500);
    expect(r.next.ok).toBe(true);
    expect(r.next.ms).toBeLessThan(1000); // replaced: no second wait
    expectHealthy(r);
    expect(r.deaths).toEqual(['worker 0 did not take a job within 1000 ms']);
  }, 40_000);

  test('it takes its job and hangs: the call fails after THINNET_WORKER_TIMEOUT_MS, the worker is stopped and replaced', async () => {
    const r = await run('hang', { THINNET_WORKER_TIMEOUT_MS: '1500' });
    expect(r.faulty.error).toMatch(/failed in worker 0: the worker did not finish scale_f32 within 1.5 s/);
    expect(r.faulty.ms).toBeLessThan(4000);
    expect(r.next.ok).toBe(true);
    expectHealthy(r);
  }, 40_000);

  test('its kernel traps: the job fails with the worker\'s message, nothing dies, the pool keeps working', async () => {
    const r = await run('trap');
    expect(r.failed.error).toMatch(/kernel scale_f32 failed in worker 0: .*out of bounds/);
    expect(r.failed.ms).toBeLessThan(2000);
    expectHealthy(r);
    expect(r.deaths).toEqual([]);
  }, 40_000);

  test('close() while an async sequence of pooled calls runs, or with a dead worker, returns at once; the sequence stops with a clear error', async () => {
    const r = await run('close');
    expect(r.calls).toBeGreaterThan(0);
    expect(r.closeMs).toBeLessThan(2000);
    expect(r.stoppedWith).toMatch(/not loaded|closed/);
    expect(r.closeDeadMs).toBeLessThan(2000);
    expect(r.reopened).toBe(r.reference);
  }, 40_000);
});
