/**
 * Candidates built from the free-agent view's rows are kept while the row is: a pass reuses them,
 * and builds anew only for a row replaced (the agent changed) or a profile replaced (skills,
 * capacity or queues changed). The view here is a stand-in returning given rows; the profiles
 * are all held, so nothing is read.
 */
import type { FreeAgentRow, FreeAgentView } from '../../src/routing/free-agents.repository';
import { expectedCandidates, heldCandidates, keptIndex, loadAvailableAgents, loadFreeCandidates, prepareCandidates } from '../../src/routing/free-candidates';
import { AgentProfiles } from '../../src/routing/agent-profiles';
import { indexAgents } from '../../src/routing/selection';
import type { Queryable } from '../../src/platform/db';

const slots = (v: Partial<Record<'voice' | 'chat' | 'sms' | 'email', number>> = {}) => ({ voice: 0, chat: 0, sms: 0, email: 0, ...v });
const noDb = {
  query: () => {
    throw new Error('no read expected: every profile is held');
  },
} as unknown as Queryable;
const rowsAmong = (rows: FreeAgentRow[], ids: readonly string[]) => [...new Set(ids)].flatMap((id) => rows.filter((r) => r.id === id));
const viewOf = (rows: () => FreeAgentRow[]) => ({ refresh: async () => rows(), current: () => rows(), rowsOf: (ids: string[]) => rowsAmong(rows(), ids) }) as unknown as FreeAgentView;
const row = (id: string, over: Partial<FreeAgentRow> = {}): FreeAgentRow => ({ id, profileVersion: 1, load: slots(), lastIdleAt: 1000, lastOfferAt: 0, ...over });

describe('free-agent candidates', () => {
  const profiles = new AgentProfiles();
  profiles.set('a', { version: 1, skills: { fr: 2 }, capacity: slots({ chat: 2 }), queueIds: ['q1'] });
  profiles.set('b', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q2'] });
  profiles.set('c', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: [] });

  it('reuses the candidate of an unchanged row, and builds anew for a replaced row or profile', async () => {
    let rows = [row('a'), row('b'), row('c')];
    const view = viewOf(() => rows);
    const first = await loadAvailableAgents(noDb, profiles, undefined, view);
    expect(first.map((c) => c.id)).toEqual(['a', 'b']); // c serves no queue
    const again = await loadAvailableAgents(noDb, profiles, undefined, view);
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);

    // a's row is replaced (its load changed); b's profile is replaced (new skills and queue).
    rows = [row('a', { load: slots({ chat: 1 }), lastIdleAt: 2000 }), rows[1]!, rows[2]!];
    profiles.set('b', { version: 2, skills: { de: 3 }, capacity: slots({ chat: 1 }), queueIds: ['q2', 'q3'] });
    const next = await loadAvailableAgents(noDb, profiles, undefined, view);
    expect(next[0]).not.toBe(first[0]);
    expect(next[0]).toMatchObject({ id: 'a', load: slots({ chat: 1 }), lastIdleAt: 2000, skills: { fr: 2 } });
    expect(next[1]).not.toBe(first[1]);
    expect(next[1]).toMatchObject({ id: 'b', skills: { de: 3 }, queueIds: ['q2', 'q3'] });
    // A candidate handed out is never changed afterwards.
    expect(first[0]).toMatchObject({ load: slots(), lastIdleAt: 1000 });
    expect(first[1]).toMatchObject({ skills: {}, queueIds: ['q2'] });
  });

  it('keeps to the scope: the agents named and those of the queues named', async () => {
    const view = viewOf(() => [row('a'), row('b')]);
    expect((await loadAvailableAgents(noDb, profiles, { agentIds: [], queueIds: ['q1'] }, view)).map((c) => c.id)).toEqual(['a']);
    expect((await loadAvailableAgents(noDb, profiles, { agentIds: ['b'], queueIds: [] }, view)).map((c) => c.id)).toEqual(['b']);
    expect((await loadAvailableAgents(noDb, profiles, { agentIds: ['b'], queueIds: ['q1'] }, view)).map((c) => c.id)).toEqual(['a', 'b']);
    expect(await loadAvailableAgents(noDb, profiles, { agentIds: [], queueIds: ['q9'] }, view)).toEqual([]);
  });

  it('says which queues the candidates serve and on which channels one of them has a slot free', async () => {
    profiles.set('d', { version: 1, skills: {}, capacity: slots({ sms: 1, email: 2 }), queueIds: ['q1', 'q4'] });
    const view = viewOf(() => [row('a', { load: slots({ chat: 2 }) }), row('d', { load: slots({ sms: 1 }) }), row('c')]);
    const all = await loadFreeCandidates(noDb, profiles, undefined, view);
    expect(all.agents.map((c) => c.id)).toEqual(['a', 'd']);
    expect(all.queueIds.sort()).toEqual(['q1', 'q4']);
    // a's chat and d's SMS slots are full; d has email free. c serves no queue, so its chat slot does not count.
    expect(all.channels).toEqual(['email']);
    expect(all.freeSlots).toBe(2);
    const scoped = await loadFreeCandidates(noDb, profiles, { agentIds: [], queueIds: ['q2'] }, viewOf(() => [row('a'), row('b')]));
    expect(scoped).toEqual({ agents: [expect.objectContaining({ id: 'b' })], queueIds: ['q2', 'q3'], channels: ['chat'], freeSlots: 1 });
  });

  it('decides scope and queues per agent when agents share their queues', async () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5', 'q6'] });
    own.set('f', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5', 'q6'] });
    own.set('g', { version: 1, skills: {}, capacity: slots({ sms: 1 }), queueIds: ['q7'] });
    own.set('h', { version: 1, skills: {}, capacity: slots({ email: 1 }), queueIds: ['q7'] });
    // Agents of the same queues share one array of them.
    expect(own.get('e', 1)!.queueIds).toBe(own.get('f', 1)!.queueIds);
    const rows = [row('e'), row('g'), row('f'), row('h')];
    const view = viewOf(() => rows);
    // By queue: both agents of q5 and q6, and only their queues and channels.
    expect(await loadFreeCandidates(noDb, own, { agentIds: [], queueIds: ['q6'] }, view)).toEqual({
      agents: [expect.objectContaining({ id: 'e' }), expect.objectContaining({ id: 'f' })], queueIds: ['q5', 'q6'], channels: ['chat'], freeSlots: 2,
    });
    // An agent named outside the queues named brings its own queues and slots, not its queue-mates'.
    expect(await loadFreeCandidates(noDb, own, { agentIds: ['h'], queueIds: ['q5'] }, view)).toEqual({
      agents: ['e', 'f', 'h'].map((id) => expect.objectContaining({ id })), queueIds: ['q5', 'q6', 'q7'], channels: ['email', 'chat'], freeSlots: 3,
    });
  });

  it('builds anew for a profile pruned and read again, and leaves out an agent whose profile is gone', async () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5'] });
    own.set('f', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5'] });
    const rows = [row('e'), row('f')];
    const first = await loadAvailableAgents(noDb, own, undefined, viewOf(() => rows));
    own.prune(new Set(['f']));
    own.set('e', { version: 1, skills: { es: 1 }, capacity: slots({ chat: 1 }), queueIds: ['q5'] });
    const next = await loadAvailableAgents(noDb, own, undefined, viewOf(() => rows));
    expect(next[0]).not.toBe(first[0]);
    expect(next[0]).toMatchObject({ id: 'e', skills: { es: 1 } });
    expect(next[1]).toBe(first[1]);
    // Pruned and not read again: the pass reads it (here: the stand-in database refuses).
    own.prune(new Set(['e']));
    await expect(loadAvailableAgents(noDb, own, undefined, viewOf(() => rows))).rejects.toThrow(/no read expected/);
  });
  it('expects, without reading, the queues, channels and slots of the rows as they stand, and of the agents named as though they were free', () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 2 }), queueIds: ['q5'] });
    own.set('g', { version: 1, skills: {}, capacity: slots({ sms: 1, voice: 1 }), queueIds: ['q7'] });
    const view = viewOf(() => [row('e', { load: slots({ chat: 1 }) })]);
    expect(expectedCandidates(own, view)).toEqual({ queueIds: ['q5'], channels: ['chat'], freeSlots: 1 });
    expect(expectedCandidates(own, view, { agentIds: [], queueIds: ['q7'] })).toEqual({ queueIds: [], channels: [], freeSlots: 0 });
    // g is not among the rows (it was not free at the last read): named, it counts with its whole capacity.
    expect(expectedCandidates(own, view, { agentIds: ['g'], queueIds: ['q5'] })).toEqual({ queueIds: ['q5', 'q7'], channels: ['voice', 'sms', 'chat'], freeSlots: 3 });
    // An agent whose profile was never read adds nothing (the pass reads its waiting work after the changes).
    expect(expectedCandidates(own, view, { agentIds: ['x'], queueIds: [] })).toEqual({ queueIds: [], channels: [], freeSlots: 0 });
  });
  /** A stand-in view that keeps a generation as the real one does, and counts how often its rows are taken. */
  const keepingView = (rows: FreeAgentRow[]) => {
    const view = { generation: 1, taken: 0, current: () => (view.taken++, rows), rowsOf: (ids: string[]) => rowsAmong(rows, ids), refresh: async () => rows };
    return view as typeof view & FreeAgentView;
  };

  it("keeps its walk while the view's rows and the profiles stand, and walks again once either moves", () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5'] });
    own.set('f', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q6'] });
    const view = keepingView([row('e'), row('f')]);
    const first = heldCandidates(own, view)!;
    expect(heldCandidates(own, view)!.agents).toBe(first.agents);
    expect(expectedCandidates(own, view)).toEqual({ queueIds: ['q5', 'q6'], channels: ['chat'], freeSlots: 2 });
    // A scope is applied to the walk kept.
    expect(heldCandidates(own, view, { agentIds: [], queueIds: ['q6'] })!.agents.map((c) => c.id)).toEqual(['f']);
    expect(view.taken).toBe(1);
    view.generation++;
    expect(heldCandidates(own, view)!.agents).not.toBe(first.agents);
    expect(view.taken).toBe(2);
    own.set('f', { version: 2, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5'] });
    // A profile set: walked again, with f's new queues (a newer profile serves a row of an older version).
    expect(heldCandidates(own, view)!.queueIds).toEqual(['q5']);
    expect(view.taken).toBe(3);
  });

  it('prepares the planning index for the candidates a pass then takes, as long as nothing changes', () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 2 }), queueIds: ['q5', 'q6'] });
    own.set('f', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5', 'q6'] });
    own.set('g', { version: 1, skills: {}, capacity: slots({ sms: 1 }), queueIds: ['q7'] });
    own.set('h', { version: 1, skills: {}, capacity: slots({ sms: 1 }), queueIds: ['q7'] });
    const view = keepingView([row('e', { lastIdleAt: 3000 }), row('g'), row('f', { lastIdleAt: 2000 }), row('h')]);
    expect(keptIndex(heldCandidates(own, view)!.agents)).toBeUndefined();
    prepareCandidates(own, view);
    const all = heldCandidates(own, view)!;
    expect(all.agents.map((c) => c.id)).toEqual(['e', 'f', 'g', 'h']);
    expect(keptIndex(all.agents)).toEqual(indexAgents(all.agents, true));
    expect(keptIndex(all.agents)!.byQueue.get('q5')!.byIdle!.flat().map((k) => all.agents[k]!.id)).toEqual(['f', 'e']);
    // A scope that takes some groups, and an agent named out of another: their index, joined.
    const some = heldCandidates(own, view, { agentIds: ['h'], queueIds: ['q5'] })!;
    expect(some.agents.map((c) => c.id)).toEqual(['e', 'f', 'h']);
    expect(keptIndex(some.agents)!.byQueue.get('q7')).toEqual({ agents: [2], free: slots({ sms: 1 }), byIdle: [[2]] });
    expect(keptIndex(some.agents)!.byQueue.get('q6')).toEqual({ agents: [0, 1], free: slots({ chat: 2 }), byIdle: [[1, 0]] });
    // Once an agent changes: walked again, and nothing prepared for the new walk.
    view.generation++;
    expect(keptIndex(heldCandidates(own, view)!.agents)).toBeUndefined();
  });

  it('walks only the agents a scope names when it names no queue, whether or not the view moved', async () => {
    const own = new AgentProfiles();
    own.set('e', { version: 1, skills: {}, capacity: slots({ chat: 2 }), queueIds: ['q5', 'q6'] });
    own.set('f', { version: 1, skills: {}, capacity: slots({ chat: 1 }), queueIds: ['q5', 'q6'] });
    own.set('g', { version: 1, skills: {}, capacity: slots({ sms: 1, email: 1 }), queueIds: ['q7'] });
    const view = keepingView([row('e'), row('g', { load: slots({ sms: 1 }) }), row('f')]);
    view.generation++;
    const g = heldCandidates(own, view, { agentIds: ['g', 'g'], queueIds: [] })!;
    expect(g).toEqual({ agents: [expect.objectContaining({ id: 'g', load: slots({ sms: 1 }) })], queueIds: ['q7'], channels: ['email'], freeSlots: 1 });
    // Two named in two groups; one named is not free (not among the rows).
    const two = await loadFreeCandidates(noDb, own, { agentIds: ['f', 'x', 'g'], queueIds: [] }, view);
    expect(two).toEqual({ agents: ['f', 'g'].map((id) => expect.objectContaining({ id })), queueIds: ['q5', 'q6', 'q7'], channels: ['email', 'chat'], freeSlots: 2 });
    expect(keptIndex(two.agents)).toEqual(indexAgents(two.agents, true));
    expect(heldCandidates(own, view, { agentIds: ['x'], queueIds: [] })).toEqual({ agents: [], queueIds: [], channels: [], freeSlots: 0 });
    // What a pass for them would read, and as though free.
    expect(expectedCandidates(own, view, { agentIds: ['g'], queueIds: [] })).toEqual({ queueIds: ['q7'], channels: ['sms', 'email'], freeSlots: 3 });
    // None of it walked every free agent.
    expect(view.taken).toBe(0);
    // A named agent whose profile is not held at its version: the pass reads it.
    own.prune(new Set(['e', 'f']));
    expect(heldCandidates(own, view, { agentIds: ['g'], queueIds: [] })).toBeNull();
    expect(view.taken).toBe(0);
  });
});
