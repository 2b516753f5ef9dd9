/** Baseline: an empty fastify POST handler parsing the same form body. Usage: tsx empty-fastify.ts <port> */
import Fastify from 'fastify';
import formbody from '@fastify/formbody';

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  await app.register(formbody);
  app.post('/twilio/sms', async () => '<Response/>');
  await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
  process.stdout.write('listening\n');
}
void main();
