/**
 * After-commit publication: in-process listeners and the caller do not wait for the Redis
 * stream append, and the stream still gets every event, in publication order. The publisher's
 * Redis connection goes through a proxy the test can hold.
 */
import { Redis } from 'ioredis';
import { EventPublisher } from '../../src/interactions/publisher';
import type { StoredEvent } from '../../src/interactions/events.types';
import { createLogger } from '../../src/platform/logger';
import { REDIS_URL, uniqueName } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

let proxy: TcpProxy;
let viaProxy: Redis;
let direct: Redis;
const streamKey = `${uniqueName('sbt')}:events`;

const event = (n: number): StoredEvent => ({
  id: String(n), customerId: 'c', interactionId: 'i', seq: n, type: 'message.received', channel: 'chat',
  direction: 'in', payload: { text: `m${n}` }, occurredAt: new Date(0),
});

const streamIds = async (): Promise<string[]> =>
  (await direct.xrange(streamKey, '-', '+')).map(([, fields]) => (JSON.parse(fields[1]!) as StoredEvent).id);

beforeAll(async () => {
  const url = new URL(REDIS_URL);
  proxy = await startTcpProxy(url.hostname, Number(url.port || 6379));
  viaProxy = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: null });
  direct = new Redis(REDIS_URL);
  await viaProxy.ping();
});

afterAll(async () => {
  await direct.del(streamKey);
  viaProxy.disconnect();
  direct.disconnect();
  await proxy.close();
});

describe('event publisher', () => {
  it('calls listeners and returns while the stream append waits; the stream then has every event in order', async () => {
    const publisher = new EventPublisher(viaProxy, streamKey, createLogger('silent'));
    const heard: string[] = [];
    publisher.on((e) => void heard.push(e.id));

    proxy.hold();
    try {
      await publisher.publishAll([{ events: [event(1), event(2)], interaction: null }]);
      await publisher.publish([event(3)]);
      expect(heard).toEqual(['1', '2', '3']);
      expect(await streamIds()).toEqual([]);
    } finally {
      proxy.release();
    }
    await publisher.appended();
    expect(await streamIds()).toEqual(['1', '2', '3']);
  });
});
