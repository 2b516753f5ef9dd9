import { dueSteps, type EscalationStep } from '../../src/routing/escalation';

const steps: EscalationStep[] = [
  { afterSeconds: 30, action: 'raise-priority', by: 5 },
  { afterSeconds: 60, action: 'relax-skills', by: 1 },
  { afterSeconds: 90, action: 'overflow', queueId: 'q2' },
  { afterSeconds: 120, action: 'raise-priority', by: 10 },
];

describe('dueSteps', () => {
  it.each<[number, number, number[]]>([
    [0, 10, []],
    [0, 30, [0]],
    [0, 75, [0, 1]],
    [1, 75, [1]],
    [2, 75, []],
    [0, 500, [0, 1, 2]], // stops at an overflow: the next queue's steps take over
    [3, 500, [3]],
    [4, 500, []],
  ])('applied=%i, waited %is → steps %j', (applied, waited, expected) => {
    expect(dueSteps(steps, applied, waited).map((d) => d.index)).toEqual(expected);
  });
});
