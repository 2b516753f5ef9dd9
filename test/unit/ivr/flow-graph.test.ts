import { inputFreeLoops, reachableFrom, type Graph } from '../../../src/ivr/flow-graph';

/** 'a>b,c' = node a (a say) leads to b and c; a leading '?' marks a menu. */
const graph = (...specs: string[]): Graph =>
  new Map(
    specs.map((spec) => {
      const [head, tail = ''] = spec.split('>');
      const menu = head!.startsWith('?');
      return [menu ? head!.slice(1) : head!, { type: menu ? 'menu' : 'say', targets: tail ? tail.split(',') : [] }];
    }),
  );

describe('reachableFrom', () => {
  it.each<[string, Graph, string, string[]]>([
    ['a chain', graph('a>b', 'b>c', 'c', 'd'), 'a', ['a', 'b', 'c']],
    ['branches and a cycle', graph('a>b,c', 'b>a', 'c', 'x>a'), 'a', ['a', 'b', 'c']],
    ['start alone', graph('a', 'b'), 'b', ['b']],
  ])('%s', (_name, g, start, expected) => {
    expect([...reachableFrom(g, start)]).toEqual(expected);
  });
});

describe('inputFreeLoops', () => {
  it.each<[string, Graph, string[][]]>([
    ['no loop', graph('a>b', 'b>c', 'c'), []],
    ['self loop', graph('a>a'), [['a', 'a']]],
    ['three-node loop', graph('s>a', 'a>b', 'b>c', 'c>a'), [['a', 'b', 'c', 'a']]],
    ['loop through a menu is fine', graph('a>b', '?b>c', 'c>a'), []],
    ['menu self loop is fine', graph('?m>m'), []],
    ['two separate loops, in flow order', graph('x>y', 'y>x', 'a>b', 'b>a'), [['x', 'y', 'x'], ['a', 'b', 'a']]],
    ['one component, shortest walk back', graph('a>b,c', 'b>a', 'c>b'), [['a', 'b', 'a']]],
    ['loop with an exit still loops', graph('a>b,end', 'b>a', 'end'), [['a', 'b', 'a']]],
  ])('%s', (_name, g, expected) => {
    expect(inputFreeLoops(g)).toEqual(expected);
  });

  it('handles a long chain without recursion limits', () => {
    const specs = Array.from({ length: 5000 }, (_, i) => `n${i}>n${(i + 1) % 5000}`);
    const [loop] = inputFreeLoops(graph(...specs));
    expect(loop).toHaveLength(5001);
  });
});
