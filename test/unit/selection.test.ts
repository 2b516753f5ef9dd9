import { indexAgents, joinIndexes, planAssignments, relaxSkills, type AgentCandidate, type Strategy, type WaitingInteraction } from '../../src/routing/selection';

const NOW = 1_000_000;
const slots = (v: Partial<Record<'voice' | 'chat' | 'sms' | 'email', number>> = {}) => ({ voice: 0, chat: 0, sms: 0, email: 0, ...v });
const agent = (id: string, over: Partial<AgentCandidate> = {}): AgentCandidate => ({
  id,
  queueIds: ['q'],
  skills: {},
  capacity: slots({ voice: 1, chat: 3, sms: 3, email: 5 }),
  load: slots(),
  lastIdleAt: NOW - 1000,
  lastOfferAt: 0,
  ...over,
});
const work = (id: string, over: Partial<WaitingInteraction> = {}): WaitingInteraction => ({
  id,
  queueId: 'q',
  channel: 'chat',
  priority: 0,
  queuedAt: NOW - 10_000,
  requiredSkills: {},
  declinedBy: [],
  ...over,
});
const plan = (waiting: WaitingInteraction[], agents: AgentCandidate[], strategy: Strategy = 'longest-idle') =>
  planAssignments(waiting, agents, () => strategy, NOW).map((a) => `${a.interactionId}->${a.agentId}`);

describe('planAssignments', () => {
  describe('eligibility', () => {
    it.each<[string, WaitingInteraction[], AgentCandidate[], string[]]>([
      ['skill met exactly', [work('i', { requiredSkills: { es: 3 } })], [agent('a', { skills: { es: 3 } })], ['i->a']],
      ['skill level too low', [work('i', { requiredSkills: { es: 3 } })], [agent('a', { skills: { es: 2 } })], []],
      ['skill missing', [work('i', { requiredSkills: { es: 0 } })], [agent('a')], []],
      ['all of several skills needed', [work('i', { requiredSkills: { es: 1, billing: 2 } })], [agent('a', { skills: { es: 5 } }), agent('b', { skills: { es: 1, billing: 2 } })], ['i->b']],
      ['not a member of the queue', [work('i', { queueId: 'other' })], [agent('a')], []],
      ['no capacity for the channel', [work('i', { channel: 'voice' })], [agent('a', { capacity: slots({ chat: 3 }) })], []],
      ['channel full', [work('i', { channel: 'voice' })], [agent('a', { load: slots({ voice: 1 }) })], []],
      ['other channel load does not count', [work('i', { channel: 'voice' })], [agent('a', { load: slots({ chat: 3 }) })], ['i->a']],
    ])('%s', (_name, waiting, agents, expected) => {
      expect(plan(waiting, agents)).toEqual(expected);
    });
  });

  describe('order of waiting work', () => {
    it('serves higher priority first, then longest waiting, then id', () => {
      const waiting = [
        work('old-low', { priority: 0, queuedAt: NOW - 90_000 }),
        work('new-high', { priority: 5, queuedAt: NOW - 1_000 }),
        work('b-tie', { priority: 1, queuedAt: NOW - 5_000 }),
        work('a-tie', { priority: 1, queuedAt: NOW - 5_000 }),
      ];
      const one = [agent('x', { capacity: slots({ chat: 3 }) })];
      expect(plan(waiting, one)).toEqual(['new-high->x', 'a-tie->x', 'b-tie->x']);
    });
  });

  describe('capacity', () => {
    it('never plans more than an agent has free, per channel', () => {
      const waiting = Array.from({ length: 10 }, (_, n) => work(`c${n}`, { queuedAt: NOW - 100 + n }));
      const result = plan(waiting, [agent('a', { load: slots({ chat: 1 }) }), agent('b')]);
      expect(result.filter((r) => r.endsWith('->a'))).toHaveLength(2);
      expect(result.filter((r) => r.endsWith('->b'))).toHaveLength(3);
      expect(result).toHaveLength(5);
    });
    it('does not mutate the agents it was given', () => {
      const a = agent('a');
      plan([work('i')], [a]);
      expect(a.load.chat).toBe(0);
    });
  });

  describe('strategies', () => {
    const agents = [
      agent('idle-long', { lastIdleAt: NOW - 60_000, lastOfferAt: NOW - 1_000, load: slots({ chat: 2 }), skills: { es: 1 } }),
      agent('idle-short', { lastIdleAt: NOW - 1_000, lastOfferAt: NOW - 50_000, load: slots({ chat: 0 }), skills: { es: 2 } }),
      agent('expert', { lastIdleAt: NOW - 5_000, lastOfferAt: NOW - 20_000, load: slots({ chat: 1 }), skills: { es: 9 } }),
    ];
    it.each<[Strategy, string]>([
      ['longest-idle', 'idle-long'],
      ['least-occupied', 'idle-short'],
      ['round-robin', 'idle-short'],
      ['skills-weighted', 'expert'],
    ])('%s picks %s', (strategy, expected) => {
      expect(plan([work('i', { requiredSkills: { es: 1 } })], agents, strategy)).toEqual([`i->${expected}`]);
    });
    it('round-robin moves on after each offer within one plan', () => {
      const three = [agent('a', { lastOfferAt: 1 }), agent('b', { lastOfferAt: 2 }), agent('c', { lastOfferAt: 3 })];
      expect(plan([work('1', { queuedAt: 1 }), work('2', { queuedAt: 2 }), work('3', { queuedAt: 3 })], three, 'round-robin')).toEqual(['1->a', '2->b', '3->c']);
    });
    it('breaks ties by idle time, then by id', () => {
      expect(plan([work('i')], [agent('b'), agent('a')], 'least-occupied')).toEqual(['i->a']);
      expect(plan([work('i')], [agent('b', { lastIdleAt: 1 }), agent('a', { lastIdleAt: 2 })], 'least-occupied')).toEqual(['i->b']);
    });
  });

  describe('agents who declined', () => {
    it('are skipped while someone else can take it', () => {
      expect(plan([work('i', { declinedBy: ['a'] })], [agent('a', { lastIdleAt: 0 }), agent('b')])).toEqual(['i->b']);
    });
    it('are the last resort when no one else can', () => {
      const [assignment] = planAssignments([work('i', { declinedBy: ['a'] })], [agent('a')], () => 'longest-idle', NOW);
      expect(assignment).toMatchObject({ agentId: 'a', explanation: { declinedFallback: true } });
    });
  });

  it('explains every decision', () => {
    const [a] = planAssignments([work('i')], [agent('a', { lastIdleAt: NOW - 42_000 }), agent('b')], () => 'longest-idle', NOW);
    expect(a!.explanation).toEqual({
      strategy: 'longest-idle',
      reason: 'longest idle among eligible agents (idle 42s)',
      eligibleAgents: 2,
      rank: [{ agentId: 'a', score: NOW - 42_000 }, { agentId: 'b', score: NOW - 1000 }],
      declinedFallback: false,
    });
  });
});

describe('relaxSkills', () => {
  it('lowers every minimum, never below zero', () => {
    expect(relaxSkills({ es: 3, billing: 1 }, 2)).toEqual({ es: 1, billing: 0 });
    expect(relaxSkills({ es: 3 }, 0)).toEqual({ es: 3 });
  });
});

/**
 * The planner indexes agents by queue and skips contacts nobody can take; on random inputs it
 * must decide exactly what the plain definition does: every contact in priority/age order, the
 * best eligible agent (declined ones only as a last resort), capacity consumed as it goes.
 */
describe('planAssignments against its plain definition', () => {
  const CH = ['voice', 'chat', 'sms', 'email'] as const;
  const STRATS: Strategy[] = ['longest-idle', 'least-occupied', 'round-robin', 'skills-weighted'];
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const reference = (waiting: WaitingInteraction[], agents: AgentCandidate[], strategyOf: (q: string) => Strategy) => {
    const pool = agents.map((a) => ({ ...a, load: { ...a.load } }));
    const out: string[] = [];
    const sorted = [...waiting].sort((a, b) => b.priority - a.priority || a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : 1));
    for (const i of sorted) {
      const eligible = pool.filter((a) => a.queueIds.includes(i.queueId) && a.load[i.channel] < a.capacity[i.channel]
        && Object.entries(i.requiredSkills).every(([s, m]) => (a.skills[s] ?? -1) >= m));
      if (eligible.length === 0) continue;
      const fresh = eligible.filter((a) => !i.declinedBy.includes(a.id));
      const cands = fresh.length > 0 ? fresh : eligible;
      const st = strategyOf(i.queueId);
      const sc = (a: AgentCandidate) => {
        if (st === 'longest-idle') return a.lastIdleAt;
        if (st === 'round-robin') return a.lastOfferAt;
        if (st === 'skills-weighted') return -Object.keys(i.requiredSkills).reduce((s, k) => s + (a.skills[k] ?? 0), 0);
        const cap = Object.values(a.capacity).reduce((s, n) => s + n, 0);
        return cap === 0 ? 1 : Object.values(a.load).reduce((s, n) => s + n, 0) / cap;
      };
      const best = cands.map((a) => ({ a, s: sc(a) })).sort((x, y) => x.s - y.s || x.a.lastIdleAt - y.a.lastIdleAt || (x.a.id < y.a.id ? -1 : 1))[0]!.a;
      best.load[i.channel] += 1;
      best.lastOfferAt = NOW;
      out.push(`${i.id}->${best.id}`);
    }
    return out;
  };

  it.each(Array.from({ length: 200 }, (_, k) => k))('random case %i', () => {
    const queues = ['q1', 'q2', 'q3'].slice(0, 1 + rand(3));
    const agents = Array.from({ length: 1 + rand(12) }, (_, k) => agent(`a${k}`, {
      queueIds: queues.filter(() => rand(2) === 0),
      skills: rand(2) ? { es: rand(4) } : {},
      capacity: slots({ voice: rand(2), chat: rand(4), sms: rand(3), email: rand(3) }),
      load: slots({ chat: rand(2), sms: rand(2) }),
      lastIdleAt: NOW - rand(5) * 1000,
      lastOfferAt: rand(3) * 1000,
    }));
    const waiting = Array.from({ length: rand(25) }, (_, k) => work(`w${k}`, {
      queueId: queues[rand(queues.length)]!,
      channel: CH[rand(4)]!,
      priority: rand(3),
      queuedAt: NOW - rand(50) * 100,
      requiredSkills: rand(3) === 0 ? { es: rand(4) } : {},
      declinedBy: rand(4) === 0 ? [`a${rand(12)}`] : [],
    }));
    const strategyOf = (q: string) => STRATS[(q.charCodeAt(1) + seed) % 4]!;
    const fixed = new Map(queues.map((q) => [q, strategyOf(q)]));
    const pick = (q: string) => fixed.get(q)!;
    const planned = planAssignments(waiting, agents, pick, NOW);
    expect(planned.map((a) => `${a.interactionId}->${a.agentId}`)).toEqual(reference(waiting, agents, pick));
    // With an index kept for these agents (longest-idle order included): the same plan, explanations and all.
    expect(planAssignments(waiting, agents, pick, NOW, indexAgents(agents, true))).toEqual(planned);
    expect(planAssignments(waiting, agents, pick, NOW, indexAgents(agents))).toEqual(planned);
  });
});

describe('planAssignments with an index kept in longest-idle order', () => {
  let seed = 7;
  // The generator's high bits: its low bits repeat with a short period.
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor(seed / 65536) % n;
  };

  // Many agents tied on idle time, declined agents among the best: the few looked at must be the right few.
  it.each(Array.from({ length: 200 }, (_, k) => k))('plans as a walk over every agent does, random case %i', () => {
    const queues = ['q1', 'q2'];
    const agents = Array.from({ length: 1 + rand(40) }, (_, k) => agent(`a${k}`, {
      queueIds: queues.filter(() => rand(3) > 0),
      skills: rand(2) ? { es: rand(3) } : {},
      capacity: slots({ chat: rand(3), sms: rand(2) }),
      load: slots({ chat: rand(2) }),
      lastIdleAt: NOW - rand(4) * 1000,
    }));
    const waiting = Array.from({ length: 1 + rand(12) }, (_, k) => work(`w${k}`, {
      queueId: queues[rand(2)]!,
      channel: rand(3) ? 'chat' : 'sms',
      priority: rand(2),
      queuedAt: NOW - rand(20) * 100,
      requiredSkills: rand(4) === 0 ? { es: rand(3) } : {},
      declinedBy: rand(2) ? Array.from({ length: 1 + rand(6) }, () => `a${rand(agents.length)}`) : [],
    }));
    const pick = (): Strategy => 'longest-idle';
    const plain = planAssignments(waiting, agents, pick, NOW);
    expect(planAssignments(waiting, agents, pick, NOW, indexAgents(agents, true))).toEqual(plain);
    // Indexed in parts and joined (runs merged as the plan reads them): the same again.
    const cuts = [0, ...Array.from({ length: rand(4) }, () => rand(agents.length + 1)).sort((x, y) => x - y), agents.length];
    const parts = cuts.slice(1).map((end, k) => agents.slice(cuts[k]!, end));
    const joined = joinIndexes(parts.map((p) => ({ index: indexAgents(p, true), size: p.length })));
    expect(planAssignments(waiting, agents, pick, NOW, joined)).toEqual(plain);
  });

  /** Agents whose load is read through a counter: which agents a plan looked at. */
  const watched = (n: number) => {
    const looked = new Set<string>();
    const agents = Array.from({ length: n }, (_, k) => {
      const a = agent(`a${String(k).padStart(3, '0')}`, { lastIdleAt: NOW - ((k * 7919) % n) * 1000, load: slots({ chat: k % 4 === 0 ? 3 : 0 }) });
      const load = a.load;
      return Object.defineProperty(a, 'load', { get: () => (looked.add(a.id), load), enumerable: true });
    });
    return { agents, looked };
  };

  it('looks at the best few agents only when the contact asks for no skills, and counts every eligible one', () => {
    const { agents, looked } = watched(200);
    const index = indexAgents(agents, true);
    looked.clear();
    const [a] = planAssignments([work('i', { declinedBy: ['a001'] })], agents, () => 'longest-idle', NOW, index);
    // Full agents (every fourth) are passed over on the way; the first five others are ranked.
    expect(looked.size).toBeLessThanOrEqual(8);
    const free = agents.filter((x) => x.load.chat < x.capacity.chat);
    const best = [...free].sort((x, y) => x.lastIdleAt - y.lastIdleAt || (x.id < y.id ? -1 : 1));
    expect(a!.agentId).toBe(best[0]!.id);
    expect(a!.explanation.eligibleAgents).toBe(150);
    expect(a!.explanation.rank.map((r) => r.agentId)).toEqual(best.slice(0, 5).map((x) => x.id));
  });

  it('looks at every agent of the queue when the contact asks for a skill, or the queue ranks otherwise', () => {
    const { agents, looked } = watched(40);
    const index = indexAgents(agents, true);
    looked.clear();
    planAssignments([work('i', { requiredSkills: { es: 0 } })], agents, () => 'longest-idle', NOW, index);
    expect(looked.size).toBe(40);
    looked.clear();
    planAssignments([work('i')], agents, () => 'round-robin', NOW, index);
    expect(looked.size).toBe(40);
  });
});
