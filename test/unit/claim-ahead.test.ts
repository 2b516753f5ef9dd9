/**
 * The claim sent ahead of a new contact's pass, as planned in memory (routing/claim-ahead.ts):
 * the queue the contact would wait in, taken from the entry points held as the message's
 * statement takes it from the table, and the agent a pass would choose, with what the claim's
 * statement must find unchanged. The view here is a stand-in returning given rows; the profiles
 * are all held, so nothing is read. Whether Postgres makes or refuses the claim is tested in
 * test/integration/routing-triggers.test.ts.
 */
import type { FreeAgentRow, FreeAgentView } from '../../src/routing/free-agents.repository';
import { AgentProfiles } from '../../src/routing/agent-profiles';
import { EntryRoutes, planClaimAhead, type EntryRouteRow } from '../../src/routing/claim-ahead';
import type { NewContact } from '../../src/interactions/reads-behind';

const slots = (v: Partial<Record<'voice' | 'chat' | 'sms' | 'email', number>> = {}) => ({ voice: 0, chat: 0, sms: 0, email: 0, ...v });
const row = (id: string, over: Partial<FreeAgentRow> = {}): FreeAgentRow => ({ id, profileVersion: 1, load: slots(), lastIdleAt: 1000, lastOfferAt: 0, ...over });
const HORIZON = { snapshot: '100:100:', epoch: '2026-12-07 00:00:00+00' };
const viewOf = (rows: FreeAgentRow[], readThrough: typeof HORIZON | null = HORIZON) =>
  ({ generation: 1, readThrough, current: () => rows, rowsOf: (ids: string[]) => rows.filter((r) => ids.includes(r.id)), refresh: async () => rows }) as unknown as FreeAgentView;
const entry = (address: string, queue: string | null, over: Partial<EntryRouteRow> = {}): EntryRouteRow => ({
  channel: 'chat', address, queue_id: queue, flow_id: null, skills: {}, strategy: 'longest-idle', ...over,
});
const contact = (over: Partial<NewContact> = {}): NewContact => ({ id: 'x1', channel: 'chat', entryAddress: 'site', ivr: false, direction: 'in', ownSkills: false, ...over });

describe('a claim ahead of a new contact\'s pass', () => {
  const profiles = new AgentProfiles();
  profiles.set('a', { version: 1, skills: {}, capacity: slots({ chat: 2, sms: 1 }), queueIds: ['q1', 'q2'] });
  profiles.set('b', { version: 1, skills: { fr: 3 }, capacity: slots({ chat: 1 }), queueIds: ['q1'] });
  profiles.set('c', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q3'] });
  const routes = new EntryRoutes();
  routes.set([entry('site', 'q1'), entry('*', 'q3'), entry('french', 'q1', { skills: { fr: 2 } }), entry('flow', 'q1', { flow_id: 'f1' }), entry('nowhere', null)]);

  it('takes the queue of the address, else of the channel\'s `*`; none for a flow first, an outbound conversation or no queue', () => {
    expect(routes.queueFor(contact())).toMatchObject({ queueId: 'q1' });
    expect(routes.queueFor(contact({ entryAddress: 'elsewhere' }))).toMatchObject({ queueId: 'q3' });
    expect(routes.queueFor(contact({ entryAddress: 'flow', ivr: true }))).toBeNull();
    // A conversation that does not ask for its flow waits in the queue at once, as the statement decides.
    expect(routes.queueFor(contact({ entryAddress: 'flow', ivr: false }))).toMatchObject({ queueId: 'q1' });
    expect(routes.queueFor(contact({ direction: 'out' }))).toBeNull();
    expect(routes.queueFor(contact({ entryAddress: 'nowhere' }))).toBeNull();
    expect(routes.queueFor(contact({ channel: 'sms' }))).toBeNull();
  });

  it('plans for the agent a pass would choose (longest idle, eligible), and names what the claim must find unchanged', () => {
    const view = viewOf([row('a', { lastIdleAt: 2000, load: slots({ sms: 1 }) }), row('b', { lastIdleAt: 1000 }), row('c', { lastIdleAt: 500 })]);
    const planned = planClaimAhead(profiles, view, routes, contact(), 5000);
    expect(planned?.assignment).toMatchObject({ interactionId: 'x1', agentId: 'b', explanation: { strategy: 'longest-idle', eligibleAgents: 2 } });
    expect(planned?.guard).toEqual({
      queueId: 'q1', queueSkills: {}, strategy: 'longest-idle', agentQueueIds: ['q1'], agentChannels: ['chat'], horizon: HORIZON.snapshot, epoch: HORIZON.epoch,
    });
    // The queue asks for French at 2: only b has it.
    const french = planClaimAhead(profiles, viewOf([row('a', { lastIdleAt: 10 }), row('b', { lastIdleAt: 1000 })]), routes, contact({ entryAddress: 'french' }), 5000);
    expect(french?.assignment.agentId).toBe('b');
    expect(french?.guard.queueSkills).toEqual({ fr: 2 });
    // a's channels with a slot free: the claim checks that nothing waits in its queues on them.
    const onlyA = planClaimAhead(profiles, viewOf([row('a', { load: slots({ chat: 1 }) })]), routes, contact(), 5000);
    expect(onlyA?.guard).toMatchObject({ agentQueueIds: ['q1', 'q2'], agentChannels: ['sms', 'chat'] });
  });

  it('plans nothing when no free agent can take it, it brings skills of its own, or the view is being read', () => {
    expect(planClaimAhead(profiles, viewOf([row('c')]), routes, contact())).toBeNull();
    expect(planClaimAhead(profiles, viewOf([row('b', { load: slots({ chat: 1 }) })]), routes, contact())).toBeNull();
    expect(planClaimAhead(profiles, viewOf([row('b')]), routes, contact({ ownSkills: true }))).toBeNull();
    expect(planClaimAhead(profiles, viewOf([row('b')], null), routes, contact())).toBeNull();
    expect(planClaimAhead(profiles, viewOf([row('b')]), routes, contact({ entryAddress: 'flow', ivr: true }))).toBeNull();
  });
});
