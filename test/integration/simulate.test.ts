/**
 * `npm run simulate` (bench/simulate.ts) as a newcomer runs it: it starts the service on a fresh
 * database, its bots take the chats and SMS it sends, it prints each queue's statistics, and
 * Ctrl-C stops everything. Traffic comes every half second here, so contacts are handled within
 * seconds.
 */
import { spawn } from 'node:child_process';
import { freePort, ROOT } from '../support/process';

/** The figures of one queue's statistics line, as simulate prints them. */
interface Printed {
  queue: string;
  answered: number;
}

function parseStats(line: string): Printed | null {
  const m = /^\s+(\S+)\s+waiting .*\|\s+24h: answered (\d+), abandoned \d+/.exec(line);
  return m ? { queue: m[1]!, answered: Number(m[2]) } : null;
}

describe('npm run simulate', () => {
  it('starts the service, its bots answer chats and SMS, statistics are printed, and Ctrl-C stops it', async () => {
    const port = await freePort();
    // `npm run simulate` runs it under tsx; here node loads tsx itself, so the script is the one
    // process Ctrl-C's SIGINT reaches and its exit code is the script's own.
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/simulate.ts'], {
      cwd: ROOT,
      env: { ...process.env, SIMULATE_PORT: String(port), SIMULATE_CHAT_EVERY_S: '0.5', SIMULATE_SMS_EVERY_S: '0.5', SIMULATE_STATS_EVERY_S: '1' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no chat and no SMS both answered within 60 s (Billing, and Sales or Support); output:\n${lines.join('\n')}`)), 60000);
      const onData = (chunk: Buffer) => {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        // Chats go to Sales and Support, SMS to Support and Billing: Billing answered means an SMS was.
        const answered = new Set(lines.map(parseStats).filter((s): s is Printed => s !== null && s.answered > 0).map((s) => s.queue));
        if (answered.has('Billing') && (answered.has('Sales') || answered.has('Support'))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`simulate exited early; output:\n${lines.join('\n')}`));
      });
    });
    try {
      await seen;
      expect(lines.join('\n')).toContain(`Switchboard simulation at http://127.0.0.1:${port}`);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    expect(await exited).toBe(0);
    // The service it started has stopped with it.
    expect(await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status, () => 'refused')).toBe('refused');
    // Its bots count a contact once wrapped up, 20 s or more after they accept it: none yet here.
    expect(lines).toContainEqual(expect.stringMatching(/^handled \d+ contacts; bye\.$/));
  }, 120000);
});
