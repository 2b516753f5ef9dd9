/**
 * A TCP proxy a test can cut and restore, to make a real Postgres unreachable for the app
 * without touching the server other tests use; or hold, to keep what the app sends waiting
 * (nothing dropped) until released.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drop every open connection and refuse new ones. */
  cut(): void;
  restore(): void;
  /** Connections refused while cut. */
  readonly refused: number;
  /** Stop passing the app's bytes on: they wait, connections stay open, until `release` (both idempotent). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let up = true;
  let held = false;
  let refused = 0;
  const sockets = new Set<net.Socket>();
  const links = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    if (!up) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const link = { client, upstream };
    sockets.add(client);
    sockets.add(upstream);
    links.add(link);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      links.delete(link);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.pipe(client);
    if (held) client.pause();
    else client.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get refused() {
      return refused;
    },
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      up = true;
    },
    hold() {
      if (held) return;
      held = true;
      for (const { client, upstream } of links) {
        client.unpipe(upstream);
        client.pause();
      }
    },
    release() {
      // Only once: piping a connection twice would pass every byte on twice.
      if (!held) return;
      held = false;
      for (const { client, upstream } of links) client.pipe(upstream);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
