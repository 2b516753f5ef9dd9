/**
 * The tests' waitFor helper against a stalled process: bytes that arrived while the process could
 * not run are read before the wait gives up. A worker that stalls while running (starved, or
 * collecting garbage) wakes with its poll timer due before the I/O that arrived meanwhile is read,
 * since timers run before the next poll for I/O. The stall here is a synchronous busy wait, standing
 * in for one, in an I/O callback (so the wait's timer is late) or right after the wait's first check.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../support/app';

function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else in this process runs
  }
}

describe('waitFor', () => {
  let server: net.Server;
  /** What the server read, so far. Each test writes a token of its own (a failed one's may arrive late). */
  let read = '';
  let onStall = (): void => undefined;

  beforeAll(async () => {
    server = net.createServer((s) => s.on('data', (d) => (d.toString() === 'stall' ? onStall() : void (read += d.toString()))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function connected(): Promise<net.Socket> {
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    return client;
  }

  it('reads what arrived during a stall while it slept, the stall not counted against its time', async () => {
    const client = await connected();
    const trigger = await connected();
    onStall = () => {
      client.write('first');
      stall(600);
    };
    try {
      const waiting = waitFor(() => read.includes('first'), 100, 'the bytes');
      trigger.write('stall');
      await expect(waiting).resolves.toBeUndefined();
    } finally {
      client.destroy();
      trigger.destroy();
    }
  });

  it('reads what arrived during a stall while it checked, before giving up', async () => {
    const client = await connected();
    try {
      const waiting = waitFor(() => read.includes('second'), 100, 'the bytes');
      client.write('second');
      stall(600);
      await expect(waiting).resolves.toBeUndefined();
    } finally {
      client.destroy();
    }
  });

  it('still fails once its time awake has passed, saying what it waited for and what was there', async () => {
    await expect(waitFor(() => false, 100, 'nothing', () => 'seen: none')).rejects.toThrow(/timed out waiting for nothing \(100 ms awake\); seen: none/);
  });
});
